"""A fake of Google's Gemini API (``/v1beta``), as strict as the real one where proxyd's requests
could go wrong: the key in ``x-goog-api-key``; roles ``user`` and ``model`` only; a
``functionResponse`` only right after the model's turn that called it, one for each call; a
thinking model's (``gemini-3*``) function-call parts each with a ``thoughtSignature``; no unknown
top-level fields (``model`` and ``stream`` belong in the path); errors and unknown paths in
Google's shape. It answers by the last user text, as the echo fakes do: ``call a tool`` makes a
signed ``functionCall``; else ``Hello! You said: <text>``, whole or as ``alt=sse`` chunks."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

KEY = "g-test-key-0123456789"
SIGNATURE = "Q2lRQlZ5SG1mOHNpZ25lZA=="  # what the fake signs its calls with
_PATH_RE = re.compile(r"^/v1beta/models/([^/:]+):(generateContent|streamGenerateContent|countTokens)$")
_FIELDS = {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings",
           "cachedContent", "labels"}  # fmt: skip
USAGE = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}


def gemini_error(status: int, name: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message, "status": name}}, status=status)


def gemini_problem(model: str, body: dict[str, Any]) -> str | None:
    """What the real API says about a request it refuses, or None."""
    unknown = set(body) - _FIELDS
    if unknown:
        return f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": Cannot find field.'
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    calls: list[str] = []
    for i, content in enumerate(contents):
        role = content.get("role")
        if role not in ("user", "model"):
            return f"Please use a valid role: user, model. (contents[{i}].role: {role!r})"
        parts = content.get("parts") or []
        if role == "model":
            calls = [p["functionCall"]["name"] for p in parts if "functionCall" in p]
            if model.startswith("gemini-3") and any(
                "functionCall" in p and not p.get("thoughtSignature") for p in parts
            ):
                return (f"Function call is missing a thought_signature in functionCall parts. This is required for "
                        f"tools to work correctly (contents[{i}])")  # fmt: skip
            continue
        answered = [p["functionResponse"]["name"] for p in parts if "functionResponse" in p]
        if answered and sorted(answered) != sorted(calls):
            return ("Please ensure that the number of function response parts is equal to the number of function "
                    f"call parts of the function call turn (contents[{i}])")  # fmt: skip
        calls = []
    return None


def _answer(body: dict[str, Any], model: str) -> tuple[list[dict[str, Any]], str]:
    """The parts of the answer, by the last user text."""
    last = body["contents"][-1]
    texts = [p["text"] for p in last.get("parts", []) if "text" in p]
    said = texts[-1] if texts else "tool-output"
    if said == "call a tool":
        call = {
            "functionCall": {"name": "run_shell_command", "args": {"command": "echo hi"}},
            "thoughtSignature": SIGNATURE,
        }
        return [call], "STOP"
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    parts = [{"text": "Thinking about it.", "thought": True}] if thinking.get("includeThoughts") else []
    return [*parts, {"text": f"Hello! You said: {said}"}], "STOP"


def _chunk(parts: list[dict[str, Any]], model: str, finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake-1"}
    if finish:
        candidate["finishReason"] = finish
        out["usageMetadata"] = USAGE
    return out


async def gemini_server(request: web.Request) -> web.StreamResponse:
    if request.headers.get("x-goog-api-key") != KEY:
        return gemini_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers. Please use API Key.")
    if request.method == "GET" and request.path == "/v1beta/models":
        token = int(request.query.get("pageToken") or 0)
        names = ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-pro-preview"]
        page = {"models": [{"name": f"models/{n}", "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
                            "supportedGenerationMethods": ["generateContent", "countTokens"]} for n in names[token:token + 2]]}  # fmt: skip
        if token + 2 < len(names):
            page["nextPageToken"] = str(token + 2)
        return web.json_response(page)
    m = _PATH_RE.match(request.path)
    if m is None or request.method != "POST":
        return gemini_error(404, "NOT_FOUND", f"Requested entity was not found. ({request.method} {request.path})")
    model, method = m.group(1), m.group(2)
    body = await request.json()
    if method == "countTokens":
        return web.json_response({"totalTokens": len(json.dumps(body.get("contents"))) // 4})
    refused = gemini_problem(model, body)
    if refused is not None:
        return gemini_error(400, "INVALID_ARGUMENT", refused)
    parts, finish = _answer(body, model)
    if method == "generateContent":
        return web.json_response(_chunk(parts, model, finish))
    if request.query.get("alt") != "sse":
        return gemini_error(400, "INVALID_ARGUMENT", "this fake streams only with alt=sse, as Gemini CLI asks")
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    chunks = [_chunk([p], model) for p in parts[:-1]] + [_chunk(parts[-1:], model, finish)]
    for chunk in chunks:
        await resp.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
    return resp

"""A pivot (Chat Completions) request as a Gemini ``generateContent`` request (pure).

As strict as Google's API: ``system`` and ``developer`` messages go to ``systemInstruction``;
contents alternate ``user`` and ``model`` (turns of one role are merged); tool calls become
``functionCall`` parts with their ids and signatures (the one proxyd carried in the id, else
Google's stand-in, :data:`~proxyd.wires.gemini.signatures.SKIP`, which Gemini 3 takes for a call
it did not sign); tool results become ``functionResponse`` parts with the name of the call they
answer, all of one turn in one content; images become ``inlineData`` (a data URL) or
``fileData``. ``reasoning_effort`` becomes ``thinkingLevel`` for Gemini 3 models and a
``thinkingBudget`` for the others, with ``includeThoughts`` so the reasoning comes back. The
model and the stream flag are the caller's (they go in the path).
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

from proxyd.wires.errors import TranslationError
from proxyd.wires.gemini.signatures import SKIP, unsigned

Body = dict[str, Any]
BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
LEVELS = {"none": "LOW", "minimal": "LOW", "low": "LOW", "medium": "HIGH", "high": "HIGH"}
_CHOICES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
_SAMPLING = (("temperature", "temperature"), ("top_p", "topP"), ("seed", "seed"),
             ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"))  # fmt: skip


def chat_to_gemini(chat: Body) -> Body:
    messages = chat.get("messages")
    if not isinstance(messages, list) or not messages:
        raise TranslationError("messages", "must be a non-empty list of messages")
    system: list[str] = []
    contents: list[Body] = []
    names: dict[str, str] = {}  # call id -> function name, for the responses that answer them
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise TranslationError(f"messages[{i}]", "must be a message object")
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text(message.get("content")))
        elif role == "assistant":
            _add(contents, "model", _model_parts(message, names))
        elif role == "tool":
            _add(contents, "user", [_response(message, names)])
        elif role == "user":
            _add(contents, "user", _user_parts(message.get("content"), f"messages[{i}].content"))
        else:
            raise TranslationError(f"messages[{i}].role", f"{role!r} is not a chat role")
    out: Body = {"contents": contents}
    if any(system):
        out["systemInstruction"] = {"parts": [{"text": "\n\n".join(t for t in system if t)}]}
    _tools(chat, out)
    config = _generation(chat)
    if config:
        out["generationConfig"] = config
    return out


def _add(contents: list[Body], role: str, parts: list[Body]) -> None:
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"] = contents[-1]["parts"] + parts
    else:
        contents.append({"role": role, "parts": parts})


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _user_parts(content: object, path: str) -> list[Body]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise TranslationError(path, "must be a string or a list of content parts")
    parts: list[Body] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and part.get("text"):
            parts.append({"text": str(part["text"])})
        elif kind == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if isinstance(url, str) and url:
                parts.append(_image(url))
    return parts


def _image(url: str) -> Body:
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        mime = head[len("data:") :].split(";")[0] or "image/png"
        return {"inlineData": {"mimeType": mime, "data": data}}
    mime = mimetypes.guess_type(url.split("?")[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _model_parts(message: Body, names: dict[str, str]) -> list[Body]:
    parts: list[Body] = []
    text = _text(message.get("content"))
    if text:
        parts.append({"text": text})
    for call in message.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        name = str(function.get("name") or "")
        call_id, signature = unsigned(str(call.get("id") or ""))
        names[str(call.get("id") or "")] = name
        try:
            args = json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError):
            args = {"arguments": function.get("arguments")}
        part: Body = {"functionCall": {"name": name, "args": args if isinstance(args, dict) else {"value": args}}}
        if call_id:
            part["functionCall"]["id"] = call_id
        part["thoughtSignature"] = signature or SKIP
        parts.append(part)
    return parts


def _response(message: Body, names: dict[str, str]) -> Body:
    call_id = str(message.get("tool_call_id") or "")
    text = _text(message.get("content"))
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    response: Body = {
        "name": names.get(call_id, ""),
        "response": parsed if isinstance(parsed, dict) else {"output": text},
    }
    own_id, _ = unsigned(call_id)
    if own_id:
        response["id"] = own_id
    return {"functionResponse": response}


def _tools(chat: Body, out: Body) -> None:
    declarations = []
    for tool in chat.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            continue
        declaration: Body = {"name": function["name"]}
        if function.get("description"):
            declaration["description"] = function["description"]
        if isinstance(function.get("parameters"), dict):
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    if not declarations:
        return
    out["tools"] = [{"functionDeclarations": declarations}]
    choice = chat.get("tool_choice")
    if isinstance(choice, str) and choice in _CHOICES and choice != "auto":
        out["toolConfig"] = {"functionCallingConfig": {"mode": _CHOICES[choice]}}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        named = {"mode": "ANY", "allowedFunctionNames": [choice["function"].get("name")]}
        out["toolConfig"] = {"functionCallingConfig": named}


def _generation(chat: Body) -> Body:
    config: Body = {}
    for field, name in _SAMPLING:
        if chat.get(field) is not None:
            config[name] = chat[field]
    limit = chat.get("max_completion_tokens") or chat.get("max_tokens")
    if isinstance(limit, int) and limit > 0:
        config["maxOutputTokens"] = limit
    stop = chat.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = chat.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt["type"] == "json_schema" else None
        if isinstance(schema, dict):
            config["responseJsonSchema"] = schema
    effort = chat.get("reasoning_effort")
    if isinstance(effort, str) and effort in BUDGETS:
        model = str(chat.get("model") or "")
        thinking: Body = {"includeThoughts": effort != "none"}
        if model.removeprefix("models/").startswith("gemini-3"):
            thinking["thinkingLevel"] = LEVELS[effort]
        else:
            thinking["thinkingBudget"] = BUDGETS[effort]
        config["thinkingConfig"] = thinking
    return config

"""A Gemini ``generateContent`` request (Gemini CLI, the google-genai SDK) in the pivot's form (pure).

``systemInstruction`` becomes the first system message (Gemini CLI sends it with ``role: "user"``;
the role is ignored, as the API ignores it). Each of ``contents`` becomes a message: ``user``
text and images (``inlineData``, ``fileData``) a user message, ``model`` text, thought summaries
and ``functionCall`` parts an assistant message with ``reasoning_content`` and ``tool_calls``,
``functionResponse`` parts ``tool`` messages. Gemini matches a response to its call by name and
order (newer versions add an ``id``): a call without an id gets ``{name}_{turn}_{part}``, and a
response without one takes the first open call of its name, so parallel calls of one tool pair
up in order, deterministically.

``tools`` become function tools (``parametersJsonSchema`` as it is, ``parameters`` from the
OpenAPI subset: upper-case types lowered, ``nullable`` as a type union); ``toolConfig`` the chat
``tool_choice``; ``generationConfig`` the sampling fields, ``stop``, ``response_format`` and a
``reasoning_effort``. The model comes from the request's path, which the caller sets as
``model``.

A tolerant reader: hosted tools (``googleSearch``, ``codeExecution``, ``urlContext``),
``safetySettings``, ``cachedContent``, ``labels``, ``topK``, media other than images, and thought
signatures (another provider would refuse one it did not issue) are left out and named in
``dropped``. Only what the API refuses (no ``contents``, a part with nothing in it, more than one
candidate) is a :class:`TranslationError` naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from proxyd.wires.errors import TranslationError
from proxyd.wires.turn import Pivoted

Body = dict[str, Any]
_DROPPED_FIELDS = ("safetySettings", "cachedContent", "labels", "serviceTier")
_HOSTED_TOOLS = ("googleSearch", "googleSearchRetrieval", "codeExecution", "urlContext", "googleMaps", "fileSearch")
_CHOICE = {"AUTO": "auto", "ANY": "required", "NONE": "none", "VALIDATED": "auto", "MODE_UNSPECIFIED": "auto"}
_LEVELS = {"MINIMAL": "minimal", "LOW": "low", "MEDIUM": "medium", "HIGH": "high"}
# thinkingBudget tokens -> effort (Gemini 2.5's scale: 128 to 32768, -1 dynamic, 0 off).
_BUDGETS = ((16384, "high"), (4096, "medium"), (1, "low"))


# Values that are the client's own data, never renamed: a call's arguments, a function's
# response, and JSON or OpenAPI schemas (their property names are the user's).
_OPAQUE = frozenset({"args", "response", "parametersJsonSchema", "responseJsonSchema", "parameters",
                     "responseSchema", "structValue"})  # fmt: skip


def camel_keys(value: Any) -> Any:
    """A request with its field names as Google's JSON mapping writes them (lowerCamelCase): the
    API takes the proto names too (``thinking_config``, ``include_thoughts``), and the
    google-genai SDK sends some of them so."""
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = _camel(key) if isinstance(key, str) and "_" in key else key
        out[name] = item if name in _OPAQUE else camel_keys(item)
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def gemini_to_chat(body: Body) -> Pivoted:
    body = camel_keys(body)
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise TranslationError("contents", "must be a non-empty list of contents")
    dropped = [name for name in _DROPPED_FIELDS if body.get(name) is not None]
    messages: list[Body] = []
    system = _texts(body.get("systemInstruction"), "systemInstruction", dropped)
    if system:
        messages.append({"role": "system", "content": system})
    calls = _Calls()
    for i, content in enumerate(contents):
        messages += _content(content, i, calls, dropped)
    chat: Body = {"model": body.get("model"), "messages": messages}
    _tools(body, chat, dropped)
    _generation(body.get("generationConfig"), chat, dropped)
    if body.get("stream") is True:  # set by the caller for streamGenerateContent
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return Pivoted(chat, dropped=tuple(dict.fromkeys(dropped)))


class _Calls:
    """The calls of the model's last turn still waiting for their responses, in order."""

    def __init__(self) -> None:
        self.open: list[tuple[str, str]] = []  # (name, id)

    def called(self, name: str, given: object, turn: int, part: int) -> str:
        call_id = given if isinstance(given, str) and given else f"{name}_{turn}_{part}"
        self.open.append((name, call_id))
        return call_id

    def answered(self, name: str, given: object) -> str:
        if isinstance(given, str) and given:
            self.open = [c for c in self.open if c[1] != given]
            return given
        for i, (open_name, call_id) in enumerate(self.open):
            if open_name == name:
                del self.open[i]
                return call_id
        return f"{name}_unmatched"


def _texts(raw: object, path: str, dropped: list[str]) -> str:
    """The text of a ``Content`` whose parts are text (the system instruction)."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    parts = raw.get("parts") if isinstance(raw, dict) else None
    if not isinstance(parts, list):
        raise TranslationError(path, "must be a Content: {parts: [{text: ...}]}")
    texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    if len(texts) < len(parts):
        dropped.append(f"{path} parts other than text")
    return "\n\n".join(texts)


def _content(content: object, turn: int, calls: _Calls, dropped: list[str]) -> list[Body]:
    path = f"contents[{turn}]"
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(content, dict) or not isinstance(parts, list):
        raise TranslationError(f"{path}.parts", "must be a list of parts")
    role = content.get("role") or "user"
    if role == "model":
        return [_model(parts, path, turn, calls, dropped)]
    if role not in ("user", "function", "tool"):  # older clients sent responses with role "function"
        dropped.append(f"{path}.role {str(role)[:20]} (read as user)")
    return _user(parts, path, calls, dropped)


def _model(parts: list[Any], path: str, turn: int, calls: _Calls, dropped: list[str]) -> Body:
    calls.open = []  # a new model turn: its calls are the ones the next responses answer
    text: list[str] = []
    thoughts: list[str] = []
    tool_calls: list[Body] = []
    for j, part in enumerate(parts):
        part = _part(part, f"{path}.parts[{j}]")
        if "thoughtSignature" in part:
            dropped.append("thoughtSignature")
        if isinstance(part.get("text"), str):
            (thoughts if part.get("thought") is True else text).append(part["text"])
        elif isinstance(part.get("functionCall"), dict):
            call = part["functionCall"]
            name = str(call.get("name") or "")
            call_id = calls.called(name, call.get("id"), turn, j)
            arguments = json.dumps(call.get("args") or {}, ensure_ascii=False)
            tool_calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
        else:
            dropped.append(f"{path} part {_kind(part)}")
    message: Body = {"role": "assistant", "content": "".join(text) or None}
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def _user(parts: list[Any], path: str, calls: _Calls, dropped: list[str]) -> list[Body]:
    out: list[Body] = []
    content: list[Body] = []
    for j, part in enumerate(parts):
        part = _part(part, f"{path}.parts[{j}]")
        if isinstance(part.get("functionResponse"), dict):
            response = part["functionResponse"]
            name = str(response.get("name") or "")
            out.append({"role": "tool", "tool_call_id": calls.answered(name, response.get("id")),
                        "content": _result(response.get("response"))})  # fmt: skip
        elif isinstance(part.get("text"), str):
            if part.get("thought") is not True:
                content.append({"type": "text", "text": part["text"]})
        elif (image := _image(part)) is not None:
            content.append(image)
        else:
            dropped.append(f"{path} part {_kind(part)}")
    if content:  # after the tool results: what the user adds follows them
        texts_only = all(c["type"] == "text" for c in content)
        out.append({"role": "user", "content": "".join(c["text"] for c in content) if texts_only else content})
    return out


def _part(part: object, path: str) -> Body:
    if not isinstance(part, dict) or not part:
        raise TranslationError(path, "must be a part: {text}, {inlineData}, {functionCall}, {functionResponse}...")
    return part


def _kind(part: Body) -> str:
    data = part.get("inlineData") or part.get("fileData")
    mime = data.get("mimeType") if isinstance(data, dict) else None
    return str(mime) if mime else next((k for k in part if k != "thoughtSignature"), "empty")


def _image(part: Body) -> Body | None:
    inline, linked = part.get("inlineData"), part.get("fileData")
    if isinstance(inline, dict) and str(inline.get("mimeType", "")).startswith("image/"):
        return {"type": "image_url", "image_url": {"url": f"data:{inline['mimeType']};base64,{inline.get('data', '')}"}}
    if isinstance(linked, dict) and str(linked.get("mimeType", "")).startswith("image/") and linked.get("fileUri"):
        return {"type": "image_url", "image_url": {"url": str(linked["fileUri"])}}
    return None


def _result(response: object) -> str:
    """A function's response as a tool message's text: Gemini CLI sends ``{"output": "..."}``."""
    if isinstance(response, dict) and set(response) <= {"output", "content"} and len(response) == 1:
        value = next(iter(response.values()))
        if isinstance(value, str):
            return value
    return json.dumps(response, ensure_ascii=False)


def _tools(body: Body, chat: Body, dropped: list[str]) -> None:
    tools: list[Body] = []
    for entry in body.get("tools") or []:
        if not isinstance(entry, dict):
            continue
        dropped += [name for name in entry if name in _HOSTED_TOOLS]
        for declaration in entry.get("functionDeclarations") or []:
            if isinstance(declaration, dict) and declaration.get("name"):
                tools.append(_function(declaration))
    config = (
        body.get("toolConfig", {}).get("functionCallingConfig") if isinstance(body.get("toolConfig"), dict) else None
    )
    mode = str(config.get("mode", "AUTO")).upper() if isinstance(config, dict) else "AUTO"
    allowed = config.get("allowedFunctionNames") if isinstance(config, dict) else None
    if isinstance(allowed, list) and allowed:
        tools = [t for t in tools if t["function"]["name"] in allowed]
    if not tools:
        return
    chat["tools"] = tools
    choice = _CHOICE.get(mode, "auto")
    if choice == "required" and len(tools) == 1:
        chat["tool_choice"] = {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
    elif choice != "auto":
        chat["tool_choice"] = choice


def _function(declaration: Body) -> Body:
    function: Body = {"name": declaration["name"]}
    if isinstance(declaration.get("description"), str):
        function["description"] = declaration["description"]
    schema = declaration.get("parametersJsonSchema")
    if schema is None and declaration.get("parameters") is not None:
        schema = openapi_to_json_schema(declaration["parameters"])
    function["parameters"] = schema if isinstance(schema, dict) else {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def openapi_to_json_schema(schema: object) -> Any:
    """Gemini's OpenAPI-subset schema as JSON Schema: ``STRING`` → ``string``, ``nullable: true`` →
    a union with ``null``, the rest (properties, items, enum, required, ...) kept as it is."""
    if isinstance(schema, list):
        return [openapi_to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: openapi_to_json_schema(value) for key, value in schema.items() if key != "nullable"}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
        if schema.get("nullable") is True:
            out["type"] = [out["type"], "null"]
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {name: openapi_to_json_schema(value) for name, value in schema["properties"].items()}
    return out


def _generation(raw: object, chat: Body, dropped: list[str]) -> None:
    if not isinstance(raw, dict):
        return
    dropped += [f"generationConfig.{name}" for name in ("topK", "responseModalities", "mediaResolution") if name in raw]
    count = raw.get("candidateCount")
    if isinstance(count, int) and count > 1:
        raise TranslationError(
            "generationConfig.candidateCount", "proxyd answers one candidate: send 1 or leave it out"
        )
    for name, field in (("maxOutputTokens", "max_tokens"), ("temperature", "temperature"), ("topP", "top_p"),
                        ("seed", "seed"), ("presencePenalty", "presence_penalty"),
                        ("frequencyPenalty", "frequency_penalty")):  # fmt: skip
        if raw.get(name) is not None:
            chat[field] = raw[name]
    if isinstance(raw.get("stopSequences"), list) and raw["stopSequences"]:
        chat["stop"] = raw["stopSequences"]
    schema = raw.get("responseJsonSchema")
    if schema is None and raw.get("responseSchema") is not None:
        schema = openapi_to_json_schema(raw["responseSchema"])
    if isinstance(schema, dict):
        chat["response_format"] = {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
    elif raw.get("responseMimeType") == "application/json":
        chat["response_format"] = {"type": "json_object"}
    effort = _effort(raw.get("thinkingConfig"))
    if effort is not None:
        chat["reasoning_effort"] = effort


def _effort(config: object) -> str | None:
    """``thinkingLevel`` as it is, ``thinkingBudget`` by size (0: none; -1, dynamic: the server's own)."""
    if not isinstance(config, dict):
        return None
    level = config.get("thinkingLevel")
    if isinstance(level, str) and level.upper() in _LEVELS:
        return _LEVELS[level.upper()]
    budget = config.get("thinkingBudget")
    if type(budget) is not int or budget < 0:
        return None
    if budget == 0:
        return "none"
    return next(effort for floor, effort in _BUDGETS if budget >= floor)

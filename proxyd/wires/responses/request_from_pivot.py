"""A Chat Completions request as a Responses request (pure), for ``wire: responses`` providers.

``system``/``developer`` messages stay input messages in place (their order matters), user
parts become ``input_text``/``input_image``/``input_file``, assistant text becomes an output
message, ``tool_calls`` become ``function_call`` items and ``tool`` messages
``function_call_output`` items. The request asks the provider not to store the answer: a chat
client never refers back to it.
"""

from __future__ import annotations

import json
from typing import Any

from proxyd.wires.errors import TranslationError

_PASSED = ("temperature", "top_p", "user", "parallel_tool_calls", "stream", "metadata", "prompt_cache_key")


def chat_to_responses(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise TranslationError("messages", "must be a non-empty list of messages")
    out: dict[str, Any] = {"model": body.get("model"), "input": _input(messages), "store": False}
    for name in _PASSED:
        if body.get(name) is not None:
            out[name] = body[name]
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if isinstance(limit, int):
        out["max_output_tokens"] = limit
    if body.get("reasoning_effort"):
        # Without a summary OpenAI returns no reasoning text at all: a client that asked for
        # thinking (Claude Code's blocks, a chat client's reasoning_content) would get it empty.
        out["reasoning"] = {"effort": body["reasoning_effort"], "summary": "auto"}
    if body.get("tools") is not None:
        out["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        out["tool_choice"] = _tool_choice(body["tool_choice"])
    fmt = _text_format(body.get("response_format"))
    if fmt is not None:
        out["text"] = {"format": fmt}
    return out


def _input(messages: list[Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            raise TranslationError(path, "must be a message object")
        role = message.get("role")
        if role in ("system", "developer", "user"):
            items.append(
                {"type": "message", "role": role, "content": _parts(message.get("content"), f"{path}.content")}
            )
        elif role == "assistant":
            items += _assistant(message, path)
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                raise TranslationError(f"{path}.tool_call_id", "is required for tool messages")
            items.append({"type": "function_call_output", "call_id": call_id, "output": _text(message.get("content"))})
        else:
            raise TranslationError(f"{path}.role", "must be system, developer, user, assistant or tool")
    return items


def _assistant(message: dict[str, Any], path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    text = _text(message.get("content"))
    if text:
        content = [{"type": "output_text", "text": text, "annotations": []}]
        items.append({"type": "message", "role": "assistant", "content": content})
    for j, call in enumerate(message.get("tool_calls") or []):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not isinstance(call.get("id"), str):
            raise TranslationError(f"{path}.tool_calls[{j}]", "needs an id and a function name")
        arguments = fn.get("arguments", "")
        items.append(
            {
                "type": "function_call",
                "call_id": call["id"],
                "name": fn["name"],
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
            }
        )
    return items


def _parts(content: object, path: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise TranslationError(path, "must be a string or a list of content parts")
    out = []
    for k, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            out.append({"type": "input_text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            item: dict[str, Any] = {"type": "input_image", "image_url": url}
            if isinstance(image, dict) and image.get("detail"):
                item["detail"] = image["detail"]
            out.append(item)
        elif kind == "file" and isinstance(part.get("file"), dict):
            out.append({"type": "input_file", **part["file"]})
        else:
            raise TranslationError(f"{path}[{k}].type", f"unknown content part type {kind!r}")
    return out


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _tools(tools: object) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise TranslationError("tools", "must be a list of tools")
    out = []
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise TranslationError(f"tools[{i}].function.name", "every function tool needs a name")
        flat = {
            "type": "function",
            "name": fn["name"],
            "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
        }
        for key in ("description", "strict"):
            if fn.get(key) is not None:
                flat[key] = fn[key]
        out.append(flat)
    return out


def _tool_choice(choice: object) -> object:
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "function", "name": choice["function"].get("name")}
    return choice


def _text_format(fmt: object) -> dict[str, Any] | None:
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema" and isinstance(fmt.get("json_schema"), dict):
        return {"type": "json_schema", **fmt["json_schema"]}
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    return None

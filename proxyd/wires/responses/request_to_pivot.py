"""A Responses API request as a Chat Completions request (pure).

Conservative toward the upstream, because many self-hosted servers know only the oldest chat
shape: text-only content is sent as one string, ``developer`` becomes ``system`` unless the
provider is known to take it, and fields with no chat meaning (``store``, ``include``,
``metadata``...) are not sent; ``prompt_cache_key`` goes on, for providers that take it. What
cannot be mapped is reported in ``dropped`` for the log; what the client got wrong is a
:class:`TranslationError` naming the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from proxyd.wires.errors import TranslationError
from proxyd.wires.responses.response import SIGNED
from proxyd.wires.responses.tools import ChatTools, convert_tool_choice, convert_tools
from proxyd.wires.turn import ToolName

_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text", "reasoning_text"})
# History items of hosted tools: they ran on OpenAI's side and mean nothing to a chat server.
_HOSTED_ITEMS = frozenset(
    {
        "web_search_call", "file_search_call", "computer_call", "computer_call_output", "code_interpreter_call",
        "image_generation_call", "mcp_call", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response",
        "local_shell_call", "local_shell_call_output", "shell_call", "shell_call_output", "apply_patch_call",
        "apply_patch_call_output", "tool_search_call", "tool_search_output", "compaction",
    }
)  # fmt: skip
_PASSED = ("temperature", "top_p", "user")


@dataclass(frozen=True)
class ChatRequest:
    body: dict[str, Any]
    tool_names: dict[str, ToolName]  # chat function name -> what it was on the Responses side
    dropped: list[str] = field(default_factory=list)


def responses_to_chat(body: dict[str, Any], *, developer_role: bool = False) -> ChatRequest:
    tools = convert_tools(body.get("tools"))
    dropped = list(tools.dropped)
    messages = _Messages(tools, system_role="developer" if developer_role else "system")
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise TranslationError("instructions", "must be a string")
        messages.add({"role": "system", "content": instructions})
    messages.input(body.get("input"))
    dropped += messages.dropped
    if not messages.messages and messages.dropped:
        raise TranslationError("input", "holds nothing a Chat Completions provider can take (" + "; ".join(
            messages.dropped) + ")")  # fmt: skip
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages.finish()}
    for name in _PASSED:
        if body.get(name) is not None:
            chat[name] = body[name]
    if tools.tools:
        chat["tools"] = tools.tools
        if body.get("parallel_tool_calls") is not None:
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    choice, notes = convert_tool_choice(body.get("tool_choice"), tools)
    dropped += notes
    if choice is not None:
        chat["tool_choice"] = choice
    _options(body, chat, dropped)
    return ChatRequest(chat, tools.names, dropped)


def _options(body: dict[str, Any], chat: dict[str, Any], dropped: list[str]) -> None:
    if isinstance(body.get("max_output_tokens"), int):
        chat["max_tokens"] = body["max_output_tokens"]
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort"):
        chat["reasoning_effort"] = reasoning["effort"]
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
            chat["response_format"] = {"type": "json_schema", "json_schema": schema}
        elif fmt.get("type") == "json_object":
            chat["response_format"] = {"type": "json_object"}
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    if body.get("background") is True:
        dropped.append("background: a Chat Completions provider answers in the foreground")
    if isinstance(body.get("prompt_cache_key"), str):  # Codex's conversation: one cache for its turns
        chat["prompt_cache_key"] = body["prompt_cache_key"]


class _Messages:
    """Builds the chat message list, merging calls into the assistant message before them."""

    def __init__(self, tools: ChatTools, system_role: str) -> None:
        self.tools = tools
        self.system_role = system_role
        self.messages: list[dict[str, Any]] = []
        self.dropped: list[str] = []
        self.call_ids: set[str] = set()
        self.thinking: list[dict[str, Any]] = []  # signed thinking waiting for its assistant turn

    def add(self, message: dict[str, Any]) -> None:
        if message["role"] == "system":
            message["role"] = self.system_role
        self.messages.append(message)

    def finish(self) -> list[dict[str, Any]]:
        return self.messages

    def input(self, raw: object) -> None:
        if isinstance(raw, str):
            self.add({"role": "user", "content": raw})
            return
        if not isinstance(raw, list):
            raise TranslationError("input", "must be a string or a list of input items")
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise TranslationError(f"input[{i}]", "must be an object (a message or another input item)")
            self.item(item, f"input[{i}]")

    def item(self, item: dict[str, Any], path: str) -> None:
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            self.message(item, path)
        elif kind in ("function_call", "custom_tool_call"):
            self.call(item, path)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self.output(item, path)
        elif kind == "reasoning":
            self.reasoning(item)
        elif kind in _HOSTED_ITEMS:
            self.dropped.append(f"{path}: {kind} items mean nothing to a Chat Completions provider")
        elif kind == "item_reference":
            # The API resolves it from what it stored; across wires there is nothing to resolve it
            # from, and dropping it would answer on a conversation with a hole in it.
            raise TranslationError(f"{path}.type", "item_reference is not supported; send the item itself")
        else:  # an item type newer than proxyd: named, never a 400 (the API may well take it)
            self.dropped.append(f"{path}: {kind} items have no Chat Completions form")

    def reasoning(self, item: dict[str, Any]) -> None:
        """Earlier thinking: chat servers do not take it back, but an Anthropic provider takes back
        the thinking it signed; it rides on the next assistant turn as a pivot thinking block."""
        signed = item.get("encrypted_content")
        if isinstance(signed, str) and signed.startswith(SIGNED):
            text = "".join(str(p.get("text") or "") for p in item.get("summary") or [] if isinstance(p, dict))
            self.thinking.append({"type": "thinking", "thinking": text, "signature": signed.removeprefix(SIGNED)})

    def _with_thinking(self, assistant: dict[str, Any]) -> dict[str, Any]:
        if self.thinking:
            assistant["thinking_blocks"], self.thinking = self.thinking, []
        return assistant

    def message(self, item: dict[str, Any], path: str) -> None:
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise TranslationError(f"{path}.role", "must be user, assistant, system or developer")
        content = _content(item.get("content"), f"{path}.content", self.dropped)
        previous = self._open_assistant()
        if role == "assistant" and previous is not None and not previous.get("tool_calls"):
            previous["content"] = _join(previous.get("content"), content)  # one assistant turn
            return
        message = {"role": "system" if role == "developer" else role, "content": content}
        self.add(self._with_thinking(message) if role == "assistant" else message)

    def call(self, item: dict[str, Any], path: str) -> None:
        call_id, name = item.get("call_id"), item.get("name")
        if not isinstance(call_id, str) or not call_id:
            raise TranslationError(f"{path}.call_id", "is required")
        if not isinstance(name, str) or not name:
            raise TranslationError(f"{path}.name", "is required")
        if item["type"] == "custom_tool_call":
            arguments = json.dumps({"input": str(item.get("input", ""))})
        else:
            arguments = item.get("arguments", "")
            arguments = arguments if isinstance(arguments, str) else json.dumps(arguments)
        chat_name = self.tools.chat_name(name, item.get("namespace"))
        assistant = self._open_assistant()
        if assistant is None:
            assistant = {"role": "assistant", "content": None}
            self.messages.append(assistant)
        self._with_thinking(assistant)
        call = {"id": call_id, "type": "function", "function": {"name": chat_name, "arguments": arguments}}
        assistant.setdefault("tool_calls", []).append(call)
        self.call_ids.add(call_id)

    def output(self, item: dict[str, Any], path: str) -> None:
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or call_id not in self.call_ids:
            raise TranslationError(f"{path}.call_id", f"{call_id!r} does not match any earlier function_call")
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": _output_text(item.get("output"))})

    def _open_assistant(self) -> dict[str, Any] | None:
        last = self.messages[-1] if self.messages else None
        return last if last is not None and last["role"] == "assistant" else None


def _content(raw: object, path: str, dropped: list[str]) -> str | list[dict[str, Any]]:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise TranslationError(path, "must be a string or a list of content parts")
    parts = []
    for i, raw_part in enumerate(raw):
        part = _part(raw_part, f"{path}[{i}]")
        if part is None:
            dropped.append(f"{path}[{i}]: {raw_part.get('type')!r} parts have no Chat Completions form")
        else:
            parts.append(part)
    if all(p["type"] == "text" for p in parts):  # the oldest servers take only strings
        return "\n".join(p["text"] for p in parts)
    return parts


def _part(part: object, path: str) -> dict[str, Any] | None:
    """A content part in chat's form; None for a type chat has no form for (dropped with a note)."""
    if not isinstance(part, dict):
        raise TranslationError(path, "must be a content part object")
    kind = part.get("type")
    if kind in _TEXT_PARTS or kind == "refusal":
        text = part.get("text", part.get("refusal"))
        if not isinstance(text, str):
            raise TranslationError(f"{path}.text", "must be a string")
        return {"type": "text", "text": text}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str):
            return None  # a file_id image: chat has no form for it
        image: dict[str, Any] = {"url": url}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file = {k: part[k] for k in ("file_data", "file_id", "filename") if part.get(k)}
        if "file_data" not in file and "file_id" not in file:
            return None  # a file_url: chat's file part has no URL form
        return {"type": "file", "file": file}
    return None


def _join(previous: Any, content: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if previous is None:
        return content
    if isinstance(previous, str) and isinstance(content, str):
        return previous + content
    return _as_parts(previous) + _as_parts(content)


def _as_parts(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _output_text(raw: object) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):  # an array of content parts: chat tool messages take text
        return "\n".join(str(p.get("text", "")) for p in raw if isinstance(p, dict) and p.get("type") in _TEXT_PARTS)
    return json.dumps(raw)

"""Responses tools as Chat Completions function tools, and the map back (pure).

Chat Completions knows only flat function tools, so:

- a flat ``function`` tool is nested as ``{type: function, function: {...}}``;
- a ``custom`` (freeform) tool, such as Codex's ``apply_patch``, becomes a function with one
  string parameter ``input`` (its grammar, if any, goes into the description); the model's
  call maps back to a ``custom_tool_call`` carrying that string;
- a ``namespace`` group is flattened to ``{namespace}__{name}`` functions that map back to
  calls with ``namespace`` set;
- hosted tools (``web_search``, ``file_search``...) cannot run behind a chat server and are
  dropped, and reported, rather than sent as fields a strict server rejects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proxyd.wires.errors import TranslationError
from proxyd.wires.turn import ToolName

_UNSAFE_NAME_RE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64  # OpenAI's limit for function names; many servers copy it
_EMPTY_PARAMETERS = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class ChatTools:
    tools: list[dict[str, Any]]
    names: dict[str, ToolName]  # chat function name -> Responses tool
    dropped: list[str]

    def chat_name(self, name: str, namespace: str | None = None) -> str:
        """The chat function name for a Responses tool (used for history and tool_choice)."""
        for chat_name, tool in self.names.items():
            if tool.name == name and tool.namespace == namespace:
                return chat_name
        return flat_name(name, namespace)


def flat_name(name: str, namespace: str | None) -> str:
    full = f"{namespace}__{name}" if namespace else name
    return _UNSAFE_NAME_RE.sub("_", full)[:_MAX_NAME]


def convert_tools(raw: object) -> ChatTools:
    if raw is None:
        return ChatTools([], {}, [])
    if not isinstance(raw, list):
        raise TranslationError("tools", "must be a list of tools")
    out = ChatTools([], {}, [])
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise TranslationError(f"tools[{i}]", "must be an object with a type")
        _add_tool(out, tool, f"tools[{i}]", namespace=None)
    return out


def _add_tool(out: ChatTools, tool: dict[str, Any], path: str, namespace: str | None) -> None:
    kind = tool.get("type")
    if kind == "namespace" and namespace is None:
        group = _name(tool, path)
        members = tool.get("tools")
        if not isinstance(members, list):
            raise TranslationError(f"{path}.tools", "must be a list of function or custom tools")
        for j, member in enumerate(members):
            if not isinstance(member, dict):
                raise TranslationError(f"{path}.tools[{j}]", "must be an object with a type")
            _add_tool(out, member, f"{path}.tools[{j}]", namespace=group)
    elif kind in ("function", "custom"):
        name = _name(tool, path)
        chat_name = _unique(flat_name(name, namespace), out.names)
        out.names[chat_name] = ToolName(kind, name, namespace)
        out.tools.append(_function(tool, chat_name) if kind == "function" else _custom(tool, chat_name))
    else:
        out.dropped.append(f"{path}: {kind!r} tools cannot run behind a Chat Completions provider")


def _name(tool: dict[str, Any], path: str) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise TranslationError(f"{path}.name", "every function, custom and namespace tool needs a name")
    return name


def _unique(name: str, taken: Mapping[str, ToolName]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate, n = name[: _MAX_NAME - len(suffix)] + suffix, n + 1
    return candidate


def _function(tool: dict[str, Any], chat_name: str) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": chat_name, "parameters": tool.get("parameters") or _EMPTY_PARAMETERS}
    if tool.get("description"):
        fn["description"] = tool["description"]
    if tool.get("strict") is not None:
        fn["strict"] = tool["strict"]
    return {"type": "function", "function": fn}


def _custom(tool: dict[str, Any], chat_name: str) -> dict[str, Any]:
    description = str(tool.get("description") or "")
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar" and fmt.get("definition"):
        syntax = fmt.get("syntax", "lark")
        description += f"\n\nThe input must follow this {syntax} grammar:\n{fmt['definition']}"
    parameters = {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The raw input for this tool."}},
        "required": ["input"],
        "additionalProperties": False,
    }
    return {
        "type": "function",
        "function": {"name": chat_name, "description": description.strip(), "parameters": parameters},
    }


def custom_input(arguments: str) -> str:
    """The freeform input from a chat call's arguments; a model that sent raw text keeps it."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    text = value.get("input") if isinstance(value, dict) else None
    return text if isinstance(text, str) else arguments


def convert_tool_choice(raw: object, tools: ChatTools) -> tuple[object | None, list[str]]:
    """Chat ``tool_choice`` for a Responses one; ``None`` means leave it out."""
    if raw is None:
        return None, []
    if not tools.tools:
        return None, ["tool_choice: no tools are left to choose from"]
    if raw in ("auto", "none", "required"):
        return raw, []
    if isinstance(raw, dict) and raw.get("type") in ("function", "custom") and isinstance(raw.get("name"), str):
        name = tools.chat_name(raw["name"], raw.get("namespace"))
        return {"type": "function", "function": {"name": name}}, []
    return "auto", [f"tool_choice: {json.dumps(raw)[:80]} has no Chat Completions form; using auto"]

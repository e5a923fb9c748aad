"""The tools a request offers, as the calls in its answer name them (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proxyd.wires.turn import ToolName


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str  # as a call names it on the pivot (chat) side
    schema: Mapping[str, Any] | None  # its arguments' JSON Schema; None: any object
    freeform: bool = False  # a custom tool: its input is text, so JSON checks do not apply


@dataclass(frozen=True, slots=True)
class Offered:
    tools: Mapping[str, ToolSpec]

    def __bool__(self) -> bool:
        return bool(self.tools)

    def get(self, name: str) -> ToolSpec | None:
        return self.tools.get(name)


NONE = Offered({})


def from_pivot(tools: object, tool_names: Mapping[str, ToolName] | None = None) -> Offered:
    """The offer of a pivot request's ``tools`` (chat function tools); ``tool_names`` says which
    stand for a client's custom (freeform) tools."""
    if not isinstance(tools, list):
        return NONE
    names = tool_names or {}
    found: dict[str, ToolSpec] = {}
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            continue
        name = fn["name"]
        schema = fn.get("parameters")
        mapped = names.get(name)
        freeform = mapped is not None and mapped.kind == "custom"
        found[name] = ToolSpec(name, schema if isinstance(schema, dict) else None, freeform)
    return Offered(found)

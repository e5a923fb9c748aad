"""What a translated exchange carries from the request to its answer (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class ToolName:
    """What a chat function name stands for on the Responses side."""

    kind: Literal["function", "custom"]
    name: str
    namespace: str | None = None


@dataclass(frozen=True)
class Pivoted:
    """A client request in the pivot's form, with what the way back needs."""

    body: dict[str, Any]
    tool_names: Mapping[str, ToolName] = field(default_factory=dict)  # pivot function name -> the client's tool
    dropped: tuple[str, ...] = ()  # what could not cross, for the translation_dropped log line


@dataclass(frozen=True)
class Turn:
    """One translated exchange, as the encoders and decoders of both ends need it."""

    request: dict[str, Any]  # the client's request, as its own wire has it
    response_id: str  # the id a client wire that names answers gives this one
    model: str  # the model name the client sent
    created: int  # Unix time the answer is dated
    tool_names: Mapping[str, ToolName] = field(default_factory=dict)
    include_usage: bool = False  # the client asked for a usage chunk

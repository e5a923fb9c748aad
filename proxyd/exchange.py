"""What the way back knows of the request it answers: one record, filled on the way in."""

from __future__ import annotations

from typing import Any, NamedTuple

from proxyd.config.settings import Provider
from proxyd.observe import Observation
from proxyd.toolcheck import ToolCheck
from proxyd.wires.registry import Wire
from proxyd.wires.turn import Turn


class Exchange(NamedTuple):
    """A tuple, not a frozen dataclass: one is made per request, and a tuple is made in a third
    of the time."""

    provider: Provider
    path: str  # the upstream path after base_url, for messages
    obs: Observation
    wire: Wire | None = None  # the provider's: whose stream rules the answer follows, when proxyd knows them
    client: Wire | None = None  # the client's: whose shape it reads (the provider's when the same)
    tools: ToolCheck | None = None  # the request offered tools: the answer's calls are checked
    stream: bool = False  # the client asked for a stream
    whole: bool = False  # ... and the provider was asked for a whole answer, replayed as one
    include_usage: bool = False  # the client's stream carries usage only when asked
    turn: Turn | None = None  # an answer that crosses wires (or whose tool calls are repaired) in this turn
    keep: dict[str, Any] | None = None  # a stateful client's full request: its turn is stored with the answer
    translated: bool = False  # the provider speaks another wire than the client (through the pivot)
    query: str = ""  # the upstream query (Gemini's alt=sse; the client's own on its wire)

"""What a ``wire: auto`` provider showed of the wire it serves (pure): its own small record.

Health is about reachability; this is about which API a provider answers, for all its models or
for some (OpenAI's Responses-only models). :mod:`proxyd.wire_learning` fills it from answers, the
forward path reads it (:meth:`proxyd.runtime.Runtime.spoken_wire`), ``/status`` and the page show
it. A reload that changes the provider's wire setting or address forgets it.
"""

from __future__ import annotations

from typing import Any

MODEL_WIRES = 256  # models a provider serves on another wire, remembered at most


class LearnedWire:
    __slots__ = ("model_wires", "reason", "wire")

    def __init__(self) -> None:
        self.wire: str | None = None  # "responses" or "chat" once the provider showed which
        self.reason: str | None = None  # what made proxyd fall back (status, start of the body)
        # model -> (wire, why): models served only on another wire than the rest; bounded, since
        # model names come from clients.
        self.model_wires: dict[str, tuple[str, str | None]] = {}

    def spoken(self, model: str | None) -> str | None:
        """The wire this provider showed for ``model``, else for every model."""
        found = self.model_wires.get(model) if model is not None and self.model_wires else None
        return found[0] if found is not None else self.wire

    def learn(self, wire: str, why: str | None, model: str | None) -> None:
        if model is None:
            self.wire, self.reason = wire, why
        elif model in self.model_wires or len(self.model_wires) < MODEL_WIRES:
            self.model_wires[model] = (wire, why)

    def as_json(self) -> dict[str, Any]:
        return {
            "detected_wire": self.wire,
            "detected_wire_reason": self.reason,
            "detected_model_wires": {
                model: {"wire": wire, "reason": why} for model, (wire, why) in self.model_wires.items()
            },
        }

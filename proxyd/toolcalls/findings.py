"""What one answer's tool calls were (pure): the record the observer counts and logs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from proxyd.toolcalls.judge import Judged


@dataclass(frozen=True, slots=True)
class Record:
    judged: Judged
    repaired: bool = False  # proxyd sent the fixed call instead
    form: str | None = None  # for a call found in text: which form it had

    @property
    def result(self) -> str:
        """The metric's result: ``repaired`` when proxyd fixed it, else what it was."""
        return "repaired" if self.repaired else self.judged.result


@dataclass(frozen=True, slots=True)
class Findings:
    """The tool calls of one answer to a request that offered tools."""

    records: tuple[Record, ...] = ()

    @property
    def outcome(self) -> str:
        """What the answer says of the model: ``ok``, ``in_text``, ``invalid`` or ``none`` (no call)."""
        kinds = {r.judged.result for r in self.records}
        if not kinds:
            return "none"
        if "in_text" in kinds:
            return "in_text"
        return "ok" if kinds == {"ok"} else "invalid"

    def counts(self) -> dict[str, int]:
        return dict(Counter(r.result for r in self.records))

    def problems(self) -> list[Record]:
        return [r for r in self.records if not r.judged.ok]

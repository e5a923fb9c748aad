"""Tool-call checking on the request path, made once for a request that offers tools.

A request without tools costs one dict lookup here and nothing later. With tools,
:func:`tool_check` gathers what the answer is judged against (the offer in the pivot's form, the
compiled schemas kept by the runtime, the provider's or model's ``tool_calls.repair``) and the
forward path hands the answer to it:

- a translated answer goes through the pivot anyway: it is checked there, and repaired when
  asked (:meth:`ToolCheck.completion`, :meth:`ToolCheck.watch`);
- an answer on the client's own wire is relayed as it came and checked beside the relay
  (:meth:`ToolCheck.observer`, :meth:`ToolCheck.answer`); with repair on, the answer of a wire
  that keeps no state goes through the pivot to be rewritten. A stateful wire's answers (a
  Responses provider's) name ids in the provider's store, so they are checked, never rewritten.

The findings land on the request's :class:`~proxyd.observe.Observation`, which counts and logs them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from proxyd.observe import Observation
from proxyd.routing import Route
from proxyd.stream_end import StreamCheck
from proxyd.toolcalls.offered import from_pivot
from proxyd.toolcalls.schemas import Schemas
from proxyd.toolcalls.watch import Judge, ToolWatch, check_completion
from proxyd.wires.pivot import END
from proxyd.wires.registry import Decoder, Wire
from proxyd.wires.turn import Pivoted, Turn

Body = dict[str, Any]


class ToolCheck:
    __slots__ = ("_judge", "obs", "turn")

    def __init__(self, judge: Judge, obs: Observation, turn: Turn) -> None:
        self._judge, self.obs, self.turn = judge, obs, turn

    def unprepared(self) -> list[tuple[str, Any]]:
        """The offered tools' schemas not compiled yet (compiled off the loop before the request is sent)."""
        tools = self._judge.offered.tools.values()
        return self._judge.schemas.missing(spec.schema for spec in tools if not spec.freeform)

    def prepared(self, compiled: list[tuple[str, Any]]) -> None:
        for key, validator in compiled:
            self._judge.schemas.keep(key, validator)

    def rewrites(self, wire: Wire) -> bool:
        """Does repair rewrite answers of this wire when they come on the client's own wire?"""
        return self._judge.repair and not wire.stateful

    def watch(self, rewrite: bool = True) -> ToolWatch:
        """For a pivot stream: checks, and repairs when asked and ``rewrite``."""
        return ToolWatch(self._judge if rewrite else self._reading())

    def _reading(self) -> Judge:
        """The judge without repair: for answers that are checked and never rewritten."""
        return Judge(self._judge.offered, self._judge.schemas, False)

    def done(self, watch: ToolWatch) -> None:
        self.obs.tools = watch.findings

    def completion(self, completion: Body) -> Body:
        """A whole pivot answer, checked; the repaired one when repair is on."""
        fixed, self.obs.tools = check_completion(completion, self._judge)
        return fixed

    def answer(self, wire: Wire, answer: Body) -> Body | None:
        """A whole answer on the client's own wire, checked; a repaired one to send instead, or None."""
        try:
            completion = wire.answer_to_pivot(answer, self.turn)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None  # an answer of an odd shape is relayed as it came, unjudged: the check never breaks it
        judge = self._judge if self.rewrites(wire) else self._reading()
        fixed, self.obs.tools = check_completion(completion, judge)
        return wire.answer_from_pivot(fixed, self.turn) if fixed is not completion else None

    def answer_bytes(self, wire: Wire, body: bytes) -> bytes:
        """:meth:`answer` for a body as it came: the same bytes unless repaired."""
        try:
            answer = json.loads(body)
        except (ValueError, RecursionError):
            return body  # the relay answers for a body that is not JSON
        if not isinstance(answer, dict) or not isinstance(answer.get(wire.answer_key), list):
            return body
        fixed = self.answer(wire, answer)
        return body if fixed is None else json.dumps(fixed).encode()

    def observer(self, wire: Wire, check: StreamCheck) -> StreamObserver:
        return StreamObserver(wire.decoder(self.turn), self.watch(rewrite=False), check, self)


class StreamObserver:
    """Reads a relayed stream for a watch, from the events its check decodes anyway. The events
    are read in batches (parsed together, which costs a fraction of parsing each on its own), so
    a chunk's way to the client is not lengthened by the reading."""

    __slots__ = ("_decoder", "_pending", "_tools", "_watch")
    BATCH = 64

    def __init__(self, decoder: Decoder, watch: ToolWatch, check: StreamCheck, tools: ToolCheck) -> None:
        self._decoder, self._watch, self._tools = decoder, watch, tools
        self._pending: list[str] = []
        check.on_event = self._event

    def _event(self, data: str) -> None:
        pending = self._pending
        pending.append(data)
        if len(pending) >= self.BATCH:
            self._read()

    def _read(self) -> None:
        batch, self._pending = self._pending, []
        self._watch.see(self._decoder.events(batch))

    def close(self) -> None:
        """The stream ended whole: judge it."""
        self._read()
        self._watch.see([END])
        self._tools.done(self._watch)


def tool_check(
    schemas: Schemas, route: Route, obs: Observation, offer: Pivoted, client: Wire, body: Body
) -> ToolCheck | None:
    """The check for a request whose (pivot-form) offer holds tools; None when it offers none."""
    offered = from_pivot(offer.body.get("tools"), offer.tool_names)
    if not offered:
        return None
    settings = route.entry.tool_calls if route.entry is not None and route.entry.tool_calls else None
    repair = (settings or route.provider.tool_calls).repair
    turn = Turn(
        request=body,
        response_id=f"resp_{obs.request_id}",
        model=str(body.get("model") or ""),
        created=int(time.time()),
        tool_names=offer.tool_names,
        include_usage=client.wants_usage(body),
    )
    return ToolCheck(Judge(offered, schemas, repair, obs.request_id), obs, turn)

"""A provider's stream on one wire as a client's stream on another, through the pivot (pure).

Kept apart from :mod:`.registry`, so that the adapters' registry needs nothing of the tool-call
checks (``toolcalls`` imports the wires; the translator, which a watch sits in, imports both).
"""

from __future__ import annotations

from proxyd.toolcalls.watch import ToolWatch
from proxyd.wires.pivot import Item
from proxyd.wires.registry import Decoder, Encoder


class StreamTranslator:
    """A provider's stream on one wire as a client's stream on another, through the pivot;
    a ``watch`` in between checks (and may rewrite) the answer's tool calls."""

    __slots__ = ("decoder", "encoder", "watch")

    def __init__(self, decoder: Decoder, encoder: Encoder, watch: ToolWatch | None = None) -> None:
        self.decoder, self.encoder, self.watch = decoder, encoder, watch

    @property
    def ended(self) -> bool:
        """The answer is over: nothing more is read from the provider."""
        return self.encoder.ended

    @property
    def usage(self) -> object:
        """Usage as the client's answer reports it, else as the provider did."""
        usage = self.encoder.usage
        return usage if usage is not None else self.decoder.usage

    def start(self) -> bytes:
        return self.encoder.start()

    def feed(self, chunk: bytes) -> bytes:
        return self.feed_items(self.decoder.feed(chunk))

    def feed_items(self, items: list[Item]) -> bytes:
        return self.encoder.feed(items if self.watch is None else self.watch.feed(items))

    def finish(self) -> bytes:
        out = self.feed_items(self.decoder.flush())
        return out + self._held() + self.encoder.finish()

    def fail(self, message: str) -> bytes:
        return self._held() + self.encoder.fail(message)

    def _held(self) -> bytes:
        """Text a watch held back, when the answer broke off before it was settled."""
        if self.watch is None or self.encoder.ended:
            return b""
        return self.encoder.feed(self.watch.close())

"""What a request cost, from its usage and its model's price (pure).

A :class:`Price` holds a model's dollars per million tokens by kind, with the cliff tiers
providers use (past a prompt size, every token of the request pays the tier's rate). The
arithmetic is ours, in micro-dollars: one request's cost is a few multiplications, where
``genai_prices.calc_price`` takes a tenth of a millisecond; :mod:`proxyd.spend.book` resolves
each model's price from that table once. Tokens of a kind the model has no price for are
billed as what they are part of (cache reads as input), the table's own rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxyd.usage import Usage

Tiered = tuple[tuple[int, float], ...]  # ((past this many prompt tokens, $ per Mtok), ...), ascending


@dataclass(frozen=True)
class Rate:
    """Dollars per million tokens, and the tiers that replace it past a prompt size."""

    base: float
    tiers: Tiered = ()

    def at(self, prompt: int) -> float:
        for start, price in reversed(self.tiers):
            if prompt > start:
                return price
        return self.base


@dataclass(frozen=True)
class Price:
    input: Rate
    output: Rate
    cache_read: Rate | None = None
    cache_write: Rate | None = None
    source: str = "config"  # where it came from: "config", "local" (a server on this machine), "genai-prices"

    def cost_micros(self, usage: Usage) -> int:
        """The request's cost in micro-dollars (rounded to the nearest)."""
        if self is FREE:
            return 0
        prompt = usage.prompt
        uncached = prompt
        dollars = 0.0
        if self.cache_read is not None:
            uncached -= usage.cache_read
            dollars += usage.cache_read * self.cache_read.at(prompt)
        if self.cache_write is not None:
            uncached -= usage.cache_write
            dollars += usage.cache_write * self.cache_write.at(prompt)
        dollars += max(uncached, 0) * self.input.at(prompt) + usage.completion * self.output.at(prompt)
        return round(dollars)  # $/Mtok x tokens is micro-dollars


FREE = Price(Rate(0.0), Rate(0.0), Rate(0.0), Rate(0.0), source="local")


def flat(input_per_mtok: float, output_per_mtok: float, cache_read: float | None, cache_write: float | None,
         source: str = "config") -> Price:  # fmt: skip
    return Price(
        Rate(input_per_mtok),
        Rate(output_per_mtok),
        None if cache_read is None else Rate(cache_read),
        None if cache_write is None else Rate(cache_write),
        source,
    )

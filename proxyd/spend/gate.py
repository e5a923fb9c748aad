"""Budgets and rate limits: checked before a request goes out, counted when it ends.

- **Rates** (``limits: {requests_per_minute, tokens_per_minute}``) over a moving minute, with
  the ``limits`` library's windows, in memory or in the shared Redis (team mode), so every
  instance counts against one window. A request takes its place in the requests window when it
  is admitted; its tokens go into the tokens window when it ends (they are known only then), and
  a client whose last minute's tokens reached the limit waits for the window to move.
- **Budgets** (``budget: {usd_per_day, usd_per_month, mode}``) of a client and of a provider's
  account, against what the ledger's counters say was spent this UTC day and month
  (:mod:`.spend_counts`). A ``hard`` budget refuses once spent; near its end, a client's
  requests go one at a time (one in flight per instance), so a budget is passed by at most one
  request an instance. A ``soft`` budget only logs and counts.

A refusal is a 429 in the client's wire shape with ``Retry-After`` and the rate-limit headers of
the client's API (OpenAI's ``x-ratelimit-*``, Anthropic's ``anthropic-ratelimit-*``), naming the
limit and when it resets.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web
from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from proxyd.config.settings import Access, Allowance, Budget, Client, Limits, Provider
from proxyd.errors import ProxyError
from proxyd.metrics import Metrics
from proxyd.spend.limit_headers import limit_headers, period_end
from proxyd.spend.rows import periods
from proxyd.spend.spend_counts import SpendCounts

WAIT_S = 120.0  # a request waiting for its client's budget turn gives up after this long
POLL_S = 0.25  # how often a waiting request looks again at what other instances spent and hold


@dataclass
class Ticket:
    """An admitted request: released when it ends, with what it cost."""

    client: str
    budget: Budget | None
    limits: Limits | None
    counted: bool = True  # in flight for its client (admit); False: only its provider's budget is counted
    reserved: int = 0  # micro-dollars held against the client's budget while it runs
    provider: str | None = None  # a provider with a budget: its spend is counted too
    provider_budget: Budget | None = None


class Gate:
    def __init__(
        self, storage: Storage, spend: SpendCounts, metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.rates = MovingWindowRateLimiter(storage)
        self.spend = spend
        self.metrics = metrics
        self._clock = clock
        self._said: set[tuple[str, str, str]] = set()  # soft budgets passed, said once a period
        self._inflight: dict[str, int] = {}
        self._largest: dict[str, int] = {}  # the costliest request seen per client: the estimate of the next
        self._turn: dict[str, asyncio.Condition] = {}
        self._log = structlog.get_logger("proxyd")

    @staticmethod
    def applies(client: Client, access: Access) -> bool:
        """Whether the client has a budget or limits (most requests: no, and nothing more is done)."""
        own, default = client.allowance, access.defaults
        return not (own.budget is None and own.limits is None and default.budget is None and default.limits is None)

    async def admit(self, client: Client, access: Access, wire: str | None) -> Ticket:
        """The request's ticket (when :meth:`applies`), or a 429 :class:`ProxyError`."""
        allowance = effective(client.allowance, access.defaults)
        limits = allowance.limits
        if limits is not None:
            await self._rates(client.name, limits, wire)
        budget = allowance.budget
        reserved = 0
        if budget is not None and budget.mode == "hard":
            reserved = await self._budget_turn(client.name, budget, wire)  # counts it in flight when it may go
        else:
            self._inflight[client.name] = self._inflight.get(client.name, 0) + 1
        return Ticket(client.name, budget, limits, reserved=reserved)

    async def admit_provider(self, ticket: Ticket | None, client: str, provider: Provider, wire: str | None) -> Ticket:
        """The ticket, now also counting for the provider's budget; a 429 once a hard one is spent."""
        budget = provider.budget
        assert budget is not None  # asked only for providers with a budget
        if budget.mode == "hard":
            spent = await self.spend.spent("provider", provider.name, self._clock())
            over = _over(budget, spent)
            if over is not None:
                self._refused(client, "provider_budget")
                raise self._budget_refusal(f"provider {provider.name!r}", budget, over, wire, spent)
        ticket = ticket or Ticket(client, None, None, counted=False)
        ticket.provider, ticket.provider_budget = provider.name, budget
        return ticket

    def settle(self, ticket: Ticket, tokens: int, cost: int | None) -> None:
        """The request ended: its cost to the client's (and the provider's) spend, its tokens to
        the tokens window, and the next waiting request of the client may go."""
        name, now = ticket.client, self._clock()
        if ticket.provider is not None and cost:
            self.spend.add("provider", ticket.provider, cost, now)
        if cost and self.metrics is not None:
            self.spend.later(self._show(ticket, now))
        if not ticket.counted:
            return
        if cost is not None:
            self._largest[name] = max(self._largest.get(name, 0), cost)
        # Out of flight only once its cost is counted: till then a check would see neither.
        self.spend.add("client", name, cost or 0, now, after=lambda: self._landed(name), release=ticket.reserved)
        if ticket.limits is not None and ticket.limits.tokens_per_minute and tokens:
            self.spend.later(self._count_tokens(name, ticket.limits.tokens_per_minute, tokens))

    async def _show(self, ticket: Ticket, now: float) -> None:
        """The budgets' use as gauges (what the alerts read); a soft budget passed is said once."""
        scopes = [("client", ticket.client, ticket.budget), ("provider", ticket.provider, ticket.provider_budget)]
        for kind, name, budget in scopes:
            if budget is None or name is None:
                continue
            spent = await self.spend.spent(kind, name, now)
            for period, used, limit in zip(("day", "month"), spent, (budget.usd_per_day, budget.usd_per_month),
                                           strict=True):  # fmt: skip
                if not limit:
                    continue
                ratio = used / (limit * 1e6)
                assert self.metrics is not None
                self.metrics.budget_used.labels(kind, name, period).set(ratio)
                said = (kind, name, periods(now)[0 if period == "day" else 1])
                if ratio >= 1 and budget.mode == "soft" and said not in self._said:
                    self._said.add(said)
                    self._log.warning("budget_exceeded", kind=kind, name=name, period=period, mode="soft",
                                      spent_usd=round(used / 1e6, 6), budget_usd=limit)  # fmt: skip

    async def _rates(self, name: str, limits: Limits, wire: str | None) -> None:
        if limits.tokens_per_minute:
            item = RateLimitItemPerMinute(limits.tokens_per_minute)
            if not await self.rates.test(item, "tokens", name):
                stats = await self.rates.get_window_stats(item, "tokens", name)
                raise self._rate_refusal(name, "tokens", limits.tokens_per_minute, stats.reset_time, wire)
        if limits.requests_per_minute:
            item = RateLimitItemPerMinute(limits.requests_per_minute)
            if not await self.rates.hit(item, "requests", name):
                stats = await self.rates.get_window_stats(item, "requests", name)
                raise self._rate_refusal(name, "requests", limits.requests_per_minute, stats.reset_time, wire)

    async def _count_tokens(self, name: str, limit: int, tokens: int) -> None:
        """A full window stays full until it moves: tokens past the limit fill it to the limit."""
        item = RateLimitItemPerMinute(limit)
        stats = await self.rates.get_window_stats(item, "tokens", name)
        take = min(tokens, stats.remaining)
        if take > 0:
            await self.rates.hit(item, "tokens", name, cost=take)

    async def _budget_turn(self, name: str, budget: Budget, wire: str | None) -> int:
        """Wait while the client's budget could be passed by the requests in flight; refuse once
        spent. Returns the estimate reserved for this request (released when it ends)."""
        turn = self._turn.setdefault(name, asyncio.Condition())
        deadline = self._clock() + WAIT_S
        async with turn:
            while True:
                reserved = await self._reserve(name, budget, wire)
                if reserved is not None:
                    self._inflight[name] = self._inflight.get(name, 0) + 1
                    return reserved
                left = deadline - self._clock()
                if left <= 0:
                    raise ProxyError(429, f"client {name!r} is near its budget and its requests run one at a "
                                     "time; this one waited too long for its turn: send it again",
                                     type="rate_limit_error", code="budget_turn_timeout")  # fmt: skip
                try:  # woken when one of ours lands; another instance's land is seen by asking again
                    await asyncio.wait_for(turn.wait(), min(left, POLL_S))
                except TimeoutError:
                    continue

    async def _reserve(self, name: str, budget: Budget, wire: str | None) -> int | None:
        """Hold the estimate of one more request (the costliest seen) against the budget, with
        what every instance spent and holds, read in the same step (team mode: one Redis
        transaction); ``None``: no room, wait. With none of the client's requests in flight
        here, one goes while what is spent and held by the others leaves room, its cost not yet
        known: an instance passes the budget by one request at most."""
        estimate = self._largest.get(name, 0)
        day, month, held = await self.spend.hold(name, estimate, self._clock())
        over = _over(budget, (day, month))
        if over is not None:
            if estimate:
                await self.spend.unreserve(name, estimate)
            self._refused(name, f"usd_per_{over}")
            raise self._budget_refusal(f"client {name!r}", budget, over, wire, (day, month))
        fits = estimate > 0 and _within(budget, (day, month), held)
        # None in flight here, and what is spent and held elsewhere leaves room: this one goes.
        if fits or (self._inflight.get(name, 0) == 0 and _within(budget, (day, month), held - estimate, strict=True)):
            return estimate
        if estimate:
            await self.spend.unreserve(name, estimate)
        return None

    def _landed(self, name: str) -> None:
        self._inflight[name] = max(self._inflight.get(name, 1) - 1, 0)
        turn = self._turn.get(name)
        if turn is not None:
            self.spend.later(_notify(turn))

    def _refused(self, client: str, limit: str) -> None:
        if self.metrics is not None:
            self.metrics.rate_limited.labels(client, limit).inc()

    def _rate_refusal(self, name: str, kind: str, limit: int, reset: float, wire: str | None) -> ProxyError:
        self._refused(name, f"{kind}_per_minute")
        wait = max(reset - self._clock(), 0.001)
        error = ProxyError(
            429,
            f"client {name!r} is over its limit of {limit:,} {kind} per minute (limits.{kind}_per_minute); "
            f"it frees up in {math.ceil(wait)} s: wait and send it again",
            type="rate_limit_error",
            code="rate_limit_exceeded",
        )
        error.headers = limit_headers(wire, kind, limit, 0, reset, wait)
        return error

    def _budget_refusal(
        self, who: str, budget: Budget, over: str, wire: str | None, spent: tuple[int, int]
    ) -> ProxyError:  # fmt: skip
        now = self._clock()
        reset = period_end(over, now)
        limit = budget.usd_per_day if over == "day" else budget.usd_per_month
        used = spent[0] if over == "day" else spent[1]
        wait = max(reset - now, 0.001)
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(reset))
        error = ProxyError(
            429,
            f"{who} has spent ${used / 1e6:,.2f} of its ${limit:,.2f} budget for the {over} "
            f"(budget.usd_per_{over}); it resets at {when}: wait, or ask whoever runs proxyd to raise it",
            type="rate_limit_error",
            code="budget_exceeded",
        )
        error.headers = limit_headers(wire, "budget", 0, 0, reset, wait)
        return error


def effective(own: Allowance, defaults: Allowance) -> Allowance:
    return Allowance(own.budget or defaults.budget, own.limits or defaults.limits)


def _within(budget: Budget, spent: tuple[int, int], held: int, *, strict: bool = False) -> bool:
    """Whether what is spent and held stays within both of the budget's periods (below them, when ``strict``)."""
    limits = (budget.usd_per_day, budget.usd_per_month)
    return all(limit is None or (used + held < limit * 1e6 if strict else used + held <= limit * 1e6)
               for used, limit in zip(spent, limits, strict=True))  # fmt: skip


def _over(budget: Budget, spent: tuple[int, int]) -> str | None:
    """Which period's budget is spent ("day" or "month"), if one is."""
    if budget.usd_per_day is not None and spent[0] >= budget.usd_per_day * 1e6:
        return "day"
    if budget.usd_per_month is not None and spent[1] >= budget.usd_per_month * 1e6:
        return "month"
    return None


async def _notify(turn: asyncio.Condition) -> None:
    async with turn:
        turn.notify_all()


GATE = web.AppKey("gate", Gate)

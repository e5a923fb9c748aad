"""The page's Usage tab: spend per day, the top clients and models, and each budget's use, from
the ledger (the same numbers as ``proxyd usage``) and the gate's counters."""

from __future__ import annotations

import datetime
import time
from typing import Any

from aiohttp import web

from proxyd.config.settings import Budget, Config
from proxyd.runtime import RUNTIME
from proxyd.spend.gate import GATE, effective
from proxyd.spend.ledger import LEDGER
from proxyd.spend.report import since_day, summarize, total

DAYS = 30
TOP = 10


async def usage_data(request: web.Request) -> dict[str, Any]:
    ledger = request.app.get(LEDGER)
    if ledger is None:
        return {"enabled": False, "days": [], "clients": [], "models": [], "budgets": [], "total": None}
    today = datetime.datetime.now(datetime.UTC).date()
    since = since_day(f"{DAYS}d", today)
    rows = await ledger.rows(since)
    by_day = {e["day"]: e for e in summarize(rows, "day")}
    days = []
    for back in range(DAYS - 1, -1, -1):  # every day of the span, a day with no requests at 0
        day = (today - datetime.timedelta(days=back)).isoformat()
        found = by_day.get(day, {"cost_usd": 0.0, "requests": 0})
        days.append({"day": day, "cost_usd": found["cost_usd"], "requests": found["requests"]})
    return {
        "enabled": True,
        "since": since,
        "days": days,
        "clients": summarize(rows, "client")[:TOP],
        "models": summarize(rows, "model")[:TOP],
        "total": total(summarize(rows, "client")),
        "budgets": await _budgets(request, request.app[RUNTIME].current.config),
    }


async def _budgets(request: web.Request, config: Config) -> list[dict[str, Any]]:
    gate = request.app.get(GATE)
    if gate is None:
        return []
    scopes: list[tuple[str, str, Budget]] = []
    access = config.listen.access
    for entry in access.tokens:
        budget = effective(entry.client.allowance, access.defaults).budget
        if budget is not None:
            scopes.append(("client", entry.client.name, budget))
    scopes += [("provider", p.name, p.budget) for p in config.providers if p.budget is not None]
    out = []
    now = time.time()
    for kind, name, budget in scopes:
        spent = await gate.spend.spent(kind, name, now)
        for period, used, limit in zip(("day", "month"), spent, (budget.usd_per_day, budget.usd_per_month),
                                       strict=True):  # fmt: skip
            if limit:
                out.append({"kind": kind, "name": name, "period": period, "mode": budget.mode,
                            "spent_usd": round(used / 1e6, 6), "budget_usd": limit})  # fmt: skip
    return out

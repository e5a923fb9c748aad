"""``proxyd usage``: what was spent, from the ledger, as a table or JSON."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os

from proxyd.config.settings import Config
from proxyd.spend.report import BY, since_day, summarize, table, total
from proxyd.spend.rows import Row
from proxyd.spend.where import ledger_store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], config_help: str) -> None:
    usage = sub.add_parser("usage", help="requests, tokens and cost per client, model, provider or day (the ledger)")
    usage.add_argument("--since", default="7d", help="7d (default), 2w, 1m, today, or a date such as 2026-12-01")
    usage.add_argument(
        "--by", default="client", choices=BY, help="one line per client (default), model, provider or day"
    )
    usage.add_argument("--json", action="store_true", help="print JSON for scripts")
    usage.add_argument("--config", help=config_help)


def run(config: Config, args: argparse.Namespace) -> int:
    """0, or 2 for a bad --since; the ledger's counts reach its store within ledger.flush_s."""
    try:
        since = since_day(args.since, datetime.datetime.now(datetime.UTC).date())
    except ValueError as exc:
        print(f"proxyd: {exc}", flush=True)
        return 2
    if not config.ledger.enabled:
        print("proxyd: the ledger is off (ledger.enabled: false): nothing was counted", flush=True)
        return 0
    rows, where = asyncio.run(_read(config, since))
    entries = summarize(rows, args.by)
    if args.json:
        doc = {"since": since, "by": args.by, "ledger": where, "rows": entries, "total": total(entries)}
        print(json.dumps(doc, indent=2))
    else:
        print(f"usage since {since} by {args.by} ({where}):")
        print(table(entries, args.by))
    return 0


async def _read(config: Config, since: str) -> tuple[list[Row], str]:
    store = ledger_store(config, os.environ)
    await store.open()
    try:
        return await store.rows(since), store.where
    finally:
        await store.close()

"""Which store the ledger is in: the shared Redis in team mode (``store.url``), else a SQLite
file (``ledger.path``, or ``usage.sqlite3`` in proxyd's state folder)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from proxyd.config.loader import state_dir
from proxyd.config.settings import Config
from proxyd.spend.ledger import LedgerStore


def ledger_store(config: Config, env: Mapping[str, str]) -> LedgerStore:
    if config.store.url:
        from proxyd.spend.ledger_redis import RedisLedger  # redis-py is imported only in team mode

        return RedisLedger(config.store.url, config.ledger.keep_days)
    from proxyd.spend.ledger_sqlite import SQLiteLedger

    path = Path(config.ledger.path).expanduser() if config.ledger.path else state_dir(env) / "usage.sqlite3"
    return SQLiteLedger(path, config.ledger.keep_days)

"""The config's money (pure): ``price:`` of a provider or model, the ``ledger`` section, and the
``budget`` and ``limits`` of clients (``listen.tokens``, ``listen.defaults``) and providers."""

from __future__ import annotations

from typing import Any

from proxyd.config.settings import Allowance, Budget, LedgerSetting, Limits, PriceSetting
from proxyd.config.yaml_fields import Errors, check_keys, integer, mapping, number, section

PRICE_KEYS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")
_EXAMPLE = "e.g. price: {input_per_mtok: 3, output_per_mtok: 15}"


def parse_price(raw: object, path: str, errs: Errors) -> PriceSetting | None:
    """Dollars per million tokens; input and output are required, the cache's rates optional."""
    doc = _given(raw, path, set(PRICE_KEYS), errs)
    if doc is None:
        return None
    values = {key: _dollars(doc, key, path, errs) for key in PRICE_KEYS}
    missing = [key for key in PRICE_KEYS[:2] if key not in doc]
    if missing:
        errs.add(path, f"needs {' and '.join(missing)} (dollars per million tokens), {_EXAMPLE}")
        return None
    if values["input_per_mtok"] is None or values["output_per_mtok"] is None:
        return None  # named above
    return PriceSetting(**values)  # type: ignore[arg-type]


def _given(raw: object, path: str, keys: set[str], errs: Errors) -> dict[str, Any] | None:
    """An optional mapping of ``keys``: ``None`` when absent (or not a mapping, said in ``errs``)."""
    if raw is None:
        return None
    doc = mapping(raw, path, errs)
    if doc is not None:
        check_keys(doc, keys, path, errs)
    return doc


def _dollars(doc: dict[str, Any], key: str, path: str, errs: Errors) -> float | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        errs.add(f"{path}.{key}", f"must be a number of dollars per million tokens, 0 or more (got {value!r})")
        return None
    return float(value)


def parse_ledger(raw: object, errs: Errors) -> LedgerSetting:
    doc = section(raw, "ledger", errs)
    check_keys(doc, {"enabled", "path", "flush_s", "keep_days"}, "ledger", errs)
    d = LedgerSetting()
    enabled = doc.get("enabled", d.enabled)
    if not isinstance(enabled, bool):
        errs.add("ledger.enabled", "must be true or false")
        enabled = d.enabled
    path = doc.get("path")
    if path is not None and (not isinstance(path, str) or not path):
        errs.add("ledger.path", "must be a file path (a SQLite file proxyd writes)")
        path = None
    return LedgerSetting(
        enabled=enabled,
        path=path,
        flush_s=number(doc, "flush_s", d.flush_s, "ledger", errs, lo=0.05),
        keep_days=integer(doc, "keep_days", d.keep_days, "ledger", errs, lo=1, hi=100_000),
    )


def parse_budget(raw: object, path: str, errs: Errors) -> Budget | None:
    """``{usd_per_day?, usd_per_month?, mode?: hard|soft}``."""
    doc = _given(raw, path, {"usd_per_day", "usd_per_month", "mode"}, errs)
    if doc is None:
        return None
    day, month = _dollars(doc, "usd_per_day", path, errs), _dollars(doc, "usd_per_month", path, errs)
    mode = doc.get("mode", "hard")
    if mode not in ("hard", "soft"):
        errs.add(f"{path}.mode", "must be hard (refuse past the budget) or soft (log and alert only)")
        mode = "hard"
    if day is None and month is None and not any(k in doc for k in ("usd_per_day", "usd_per_month")):
        errs.add(path, "needs usd_per_day or usd_per_month, e.g. budget: {usd_per_day: 20}")
        return None
    return Budget(usd_per_day=day, usd_per_month=month, mode=mode)


def parse_limits(raw: object, path: str, errs: Errors) -> Limits | None:
    """``{requests_per_minute?, tokens_per_minute?}``."""
    doc = _given(raw, path, {"requests_per_minute", "tokens_per_minute"}, errs)
    if doc is None:
        return None
    rates = {key: _count(doc, key, path, errs) for key in ("requests_per_minute", "tokens_per_minute")}
    if not any(k in doc for k in rates):
        errs.add(path, "needs requests_per_minute or tokens_per_minute, e.g. limits: {requests_per_minute: 60}")
        return None
    return Limits(**rates)


def parse_allowance(doc: dict[str, Any], path: str, errs: Errors) -> Allowance:
    """The ``budget`` and ``limits`` of a client entry or of ``listen.defaults``."""
    return Allowance(parse_budget(doc.get("budget"), f"{path}.budget", errs),
                     parse_limits(doc.get("limits"), f"{path}.limits", errs))  # fmt: skip


def _count(doc: dict[str, Any], key: str, path: str, errs: Errors) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        errs.add(f"{path}.{key}", f"must be a whole number of at least 1 (got {value!r})")
        return None
    return value

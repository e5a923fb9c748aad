"""The config's money: ``price:`` of a provider or model (pure)."""

from __future__ import annotations

from typing import Any

from proxyd.config.settings import PriceSetting
from proxyd.config.yaml_fields import Errors, check_keys, mapping

PRICE_KEYS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")
_EXAMPLE = "e.g. price: {input_per_mtok: 3, output_per_mtok: 15}"


def parse_price(raw: object, path: str, errs: Errors) -> PriceSetting | None:
    """Dollars per million tokens; input and output are required, the cache's rates optional."""
    if raw is None:
        return None
    doc = mapping(raw, path, errs)
    if doc is None:
        return None
    check_keys(doc, set(PRICE_KEYS), path, errs)
    values = {key: _dollars(doc, key, path, errs) for key in PRICE_KEYS}
    missing = [key for key in PRICE_KEYS[:2] if key not in doc]
    if missing:
        errs.add(path, f"needs {' and '.join(missing)} (dollars per million tokens), {_EXAMPLE}")
        return None
    if values["input_per_mtok"] is None or values["output_per_mtok"] is None:
        return None  # named above
    return PriceSetting(**values)  # type: ignore[arg-type]


def _dollars(doc: dict[str, Any], key: str, path: str, errs: Errors) -> float | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        errs.add(f"{path}.{key}", f"must be a number of dollars per million tokens, 0 or more (got {value!r})")
        return None
    return float(value)

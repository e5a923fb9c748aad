"""Each model's price, resolved once: the config's, 0 for a server on this machine or network,
else the ``genai-prices`` table's for the provider's API host. A model the table does not know
(or a gateway it cannot place, whose prices are its own) has no price: its tokens are counted
and its cost is left out, never guessed.

``genai_prices`` loads its table on first use (a fifth of a second): :meth:`PriceBook.prime`
does that, and resolves every configured model, in a thread at start and after each reload, so
a request's cost is a dictionary lookup and a few multiplications.
"""

from __future__ import annotations

import datetime
from functools import lru_cache

from proxyd.config.services import is_local_url
from proxyd.config.settings import Config, PriceSetting, Provider
from proxyd.spend.prices import FREE, Price, Rate, flat

MAX_MODELS = 4096  # (provider, model) pairs remembered: model names come from clients
_NOT_LOCAL = ("LiteLLM",)  # a gateway on this machine still spends a cloud's money


class PriceBook:
    """One config generation's prices, by provider name and model (a reload makes a new book)."""

    __slots__ = ("_entries", "_known", "_providers")

    def __init__(self, config: Config) -> None:
        self._providers = {p.name: p for p in config.providers}
        self._entries = {(p.name, e.id): e for p in config.providers for e in p.models}
        self._known: dict[tuple[str, str | None], Price | None] = {}

    def price(self, provider: str, model: str | None) -> Price | None:
        key = (provider, model)
        if key in self._known:
            return self._known[key]
        found = self._resolve(provider, model)
        if len(self._known) < MAX_MODELS:
            self._known[key] = found
        return found

    def _resolve(self, name: str, model: str | None) -> Price | None:
        provider = self._providers.get(name)
        if provider is None:
            return None
        entry = self._entries.get((name, model)) if model is not None else None
        setting = (entry.price if entry is not None else None) or provider.price
        if setting is not None:
            return _configured(setting)
        if local(provider):
            return FREE
        return table_price(provider.base_url, model) if model else None

    def prime(self) -> None:
        """Resolve every configured model now (blocking, and the table's first load: run it in a
        thread)."""
        wanted = [*self._entries, *((p.name, p.default_model) for p in self._providers.values() if p.default_model)]
        for name, model in wanted:
            try:
                self.price(name, model)
            except Exception:  # a table that fails to load leaves the model unpriced, not the daemon down
                self._known[name, model] = None


def local(provider: Provider) -> bool:
    """A server on this machine or the private network: its tokens cost nothing unless priced."""
    return is_local_url(provider.base_url) and provider.service not in _NOT_LOCAL


@lru_cache(maxsize=256)
def _configured(setting: PriceSetting) -> Price:
    return flat(setting.input_per_mtok, setting.output_per_mtok, setting.cache_read_per_mtok,
                setting.cache_write_per_mtok)  # fmt: skip


def table_price(api_url: str, model: str) -> Price | None:
    """The ``genai-prices`` table's price of ``model`` at the provider whose API is ``api_url``."""
    from genai_prices import data_snapshot  # its table loads on first use; prime() runs that in a thread

    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(model, None, None, api_url)
    except LookupError:
        return None
    prices = info.get_prices(datetime.datetime.now(datetime.UTC))
    rates = [_rate(getattr(prices, key, None)) for key in ("input_mtok", "output_mtok", "cache_read_mtok",
                                                            "cache_write_mtok")]  # fmt: skip
    if rates[0] is None or rates[1] is None:
        return None  # priced by something else (images, seconds): not a token price
    return Price(rates[0], rates[1], rates[2], rates[3], source="genai-prices")


def _rate(value: object) -> Rate | None:
    if value is None:
        return None
    tiers = getattr(value, "tiers", None)
    if tiers is not None:  # TieredPrices: past a prompt size, every token pays the tier's rate
        return Rate(float(value.base), tuple((int(t.start), float(t.price)) for t in tiers))  # type: ignore[attr-defined]
    return Rate(float(value))  # type: ignore[arg-type]

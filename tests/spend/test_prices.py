"""Prices: our arithmetic against genai-prices' own, the config's override, a local server's 0,
and a model nobody prices (tables)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from genai_prices import Usage as TableUsage
from genai_prices import calc_price

from proxyd.config.settings import Config, Listen, ModelEntry, PriceSetting, Provider
from proxyd.spend.book import PriceBook, table_price
from proxyd.spend.prices import FREE, Price, Rate
from proxyd.usage import Usage

SMALL = Usage(prompt=12_000, completion=800, reasoning=300, cache_read=9_000, cache_write=2_000)
LARGE = Usage(prompt=450_000, completion=9_000, cache_read=300_000, cache_write=100_000)  # past 200k tiers
CASES = [
    ("https://api.anthropic.com/v1", "claude-sonnet-4-5"),
    ("https://api.anthropic.com/v1", "claude-opus-4-1"),
    ("https://api.openai.com/v1", "gpt-4o-mini"),
    ("https://api.openai.com/v1", "gpt-4.1"),
    ("https://api.deepseek.com", "deepseek-chat"),
    ("https://generativelanguage.googleapis.com/v1beta/openai", "gemini-2.5-pro"),
    ("https://openrouter.ai/api/v1", "anthropic/claude-sonnet-4.5"),
    ("https://api.groq.com/openai/v1", "llama-3.3-70b-versatile"),
]


@pytest.mark.parametrize(("api_url", "model"), CASES)
@pytest.mark.parametrize("usage", [SMALL, LARGE], ids=["small", "past-tiers"])
def test_our_cost_is_the_tables_to_the_micro_dollar(api_url: str, model: str, usage: Usage) -> None:
    price = table_price(api_url, model)
    assert price is not None and price.source == "genai-prices"
    counts = TableUsage(
        input_tokens=usage.prompt,
        output_tokens=usage.completion,
        cache_read_tokens=usage.cache_read,
        cache_write_tokens=usage.cache_write,
    )
    theirs = calc_price(counts, model, provider_api_url=api_url).total_price
    assert abs(price.cost_micros(usage) - theirs * Decimal(1_000_000)) <= 1, (model, price)


def provider(base_url: str, price: PriceSetting | None = None, service: str | None = None) -> Provider:
    return Provider(name="p", base_url=base_url, price=price, service=service)


OWN = PriceSetting(2.0, 8.0, cache_read_per_mtok=0.5)


@pytest.mark.parametrize(
    ("prov", "entry", "model", "expected"),
    [
        # the config's price wins over the table's, a model's over its provider's
        (
            provider("https://api.openai.com/v1", OWN),
            None,
            "gpt-4o-mini",
            2 * 12_000 - 2 * 9_000 + 9_000 * 0.5 + 8 * 800,
        ),
        (provider("https://api.openai.com/v1", OWN), ModelEntry("m", price=PriceSetting(1.0, 1.0)), "m", 12_800),
        # servers on this machine or network cost nothing, unless priced
        (provider("http://127.0.0.1:11434/v1", service="Ollama"), None, "llama3.2", 0),
        (provider("http://gpu-box.lan:8000/v1"), None, "qwen3", 0),
        (provider("http://10.1.2.3:8000/v1", OWN), None, "qwen3", 2 * 12_000 - 2 * 9_000 + 9_000 * 0.5 + 8 * 800),
        # a gateway proxying clouds is not free, and its host is not in the table: unpriced
        (provider("http://127.0.0.1:4000/v1", service="LiteLLM"), None, "gpt-4o", None),
        (provider("https://llm.corp.example/v1"), None, "gpt-4o", None),
        # a model the table does not know is unpriced, never guessed
        (provider("https://api.openai.com/v1"), None, "no-such-model-xyz", None),
    ],
)
def test_which_price_applies(prov: Provider, entry: ModelEntry | None, model: str, expected: float | None) -> None:
    prov = replace(prov, models=(entry,) if entry is not None else ())
    price = PriceBook(Config(Listen(), (prov,))).price("p", model)
    assert (None if price is None else price.cost_micros(SMALL)) == (None if expected is None else round(expected))


def test_tiers_are_cliffs_on_the_prompt() -> None:
    price = Price(Rate(3.0, ((200_000, 6.0),)), Rate(15.0, ((200_000, 22.5),)))
    assert price.cost_micros(Usage(prompt=200_000, completion=1_000)) == 3 * 200_000 + 15 * 1_000
    assert price.cost_micros(Usage(prompt=200_001, completion=1_000)) == 6 * 200_001 + 22.5 * 1_000


def test_free_is_free() -> None:
    assert FREE.cost_micros(LARGE) == 0

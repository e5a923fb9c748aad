"""Usage crosses every pair of wires faithfully, whole and streamed: cache reads and writes and
reasoning tokens arrive in the client's own fields (Claude Code's context bar and ``/cost`` read
them), as far as the client's wire has a field for them (Anthropic's has none for reasoning,
Gemini's none for cache writes: they count in its prompt)."""

from __future__ import annotations

import json
from itertools import permutations
from typing import Any

import pytest

from proxyd.usage import Usage
from proxyd.wires.registry import WIRES
from proxyd.wires.translator import StreamTranslator
from tests.wires.test_registry import SAMPLES, turn_for

# 100 prompt tokens of which 60 read from the cache and 20 written to it; 30 out, 10 of them reasoning.
USAGES: dict[str, dict[str, Any]] = {
    "chat": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130,
             "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 20},
             "completion_tokens_details": {"reasoning_tokens": 10}},
    "responses": {"input_tokens": 100, "output_tokens": 30, "total_tokens": 130,
                  "input_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 20},
                  "output_tokens_details": {"reasoning_tokens": 10}},
    "anthropic": {"input_tokens": 20, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 20,
                  "output_tokens": 30},
    "gemini": {"promptTokenCount": 100, "candidatesTokenCount": 20, "thoughtsTokenCount": 10,
               "cachedContentTokenCount": 60, "totalTokenCount": 130},
}  # fmt: skip
# Where a whole answer carries its usage.
KEYS = {"gemini": "usageMetadata"}
FULL = Usage(prompt=100, completion=30, reasoning=10, cache_read=60, cache_write=20)
PAIRS = list(permutations(WIRES, 2))


def expected(client: str, provider: str) -> Usage:
    """Anthropic's usage has no reasoning count, Gemini's no cache writes: none comes from
    them, none reaches them."""
    usage = FULL._replace(reasoning=0) if "anthropic" in (client, provider) else FULL
    return usage._replace(cache_write=0) if "gemini" in (client, provider) else usage


@pytest.mark.parametrize("wire", list(WIRES))
def test_each_wire_reads_its_own_usage(wire: str) -> None:
    assert WIRES[wire].usage(USAGES[wire]) == expected(wire, wire if wire != "anthropic" else "anthropic")


@pytest.mark.parametrize(("client", "provider"), PAIRS)
def test_a_whole_answers_usage_crosses(client: str, provider: str) -> None:
    turn = turn_for(client)
    answer = {**SAMPLES[provider][2], KEYS.get(provider, "usage"): USAGES[provider]}
    out = WIRES[client].answer_from_pivot(WIRES[provider].answer_to_pivot(answer, turn), turn)
    assert WIRES[client].usage(out[KEYS.get(client, "usage")]) == expected(client, provider)


def _stream(provider: str) -> bytes:
    """The sample stream of ``provider`` with the rich usage in its own place."""
    text = SAMPLES[provider][1].decode()
    if provider == "chat":
        old = '"usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}'
    elif provider == "responses":
        old = '"usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}'
    elif provider == "gemini":
        old = '"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}'
        return text.replace(old, '"usageMetadata": ' + json.dumps(USAGES["gemini"])).encode()
    else:  # Anthropic: the input counts come with message_start, the output count with message_delta
        text = text.replace('"usage": {"input_tokens": 3, "output_tokens": 1}',
                            '"usage": ' + json.dumps({**USAGES["anthropic"], "output_tokens": 1}))  # fmt: skip
        old = '"usage": {"output_tokens": 2}'
        return text.replace(old, '"usage": {"output_tokens": 30}').encode()
    assert old in text
    return text.replace(old, '"usage": ' + json.dumps(USAGES[provider])).encode()


@pytest.mark.parametrize(("client", "provider"), PAIRS)
def test_a_streams_usage_crosses(client: str, provider: str) -> None:
    turn = turn_for(client)
    translator = StreamTranslator(WIRES[provider].decoder(turn), WIRES[client].encoder(turn))
    out = translator.start() + translator.feed(_stream(provider)) + translator.finish()
    check = WIRES[client].check()
    check.feed(out)
    assert check.closing() == b""
    assert check.usage() == expected(client, provider)

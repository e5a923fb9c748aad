"""What the page shows: cards, model rows and traffic, and never a key."""

from __future__ import annotations

import json

from proxyd.config.settings import ModelEntry
from proxyd.diagnosis import Diagnosis
from proxyd.page.view import document, model_rows
from proxyd.reachability import ProbeResult, ProviderHealth
from proxyd.routing import Router
from tests.conftest import make_config

SECRET = "sk-page-view-secret-1234"


def config_with_models(list_discovered: bool = False) -> Router:
    config = make_config({"providers": [
        {"name": "local", "base_url": "http://127.0.0.1:11434/v1"},
        {"name": "cloud", "base_url": "https://api.example.com/v1", "api_key": SECRET, "list_discovered": list_discovered,
         "models": [{"id": "big", "context_window": 200000, "capabilities": {"vision": True}, "tags": ["main"]}]},
    ]})  # fmt: skip
    listed = (ModelEntry("big", capabilities=(("tools", True),), listed=frozenset({"tools"})), ModelEntry("extra"))
    return Router(config, {"local": (ModelEntry("llama3.2", context_window=131072),), "cloud": listed})


def test_cards_show_state_history_and_where_the_key_comes_from_never_the_key() -> None:
    router = config_with_models()
    health = {"local": ProviderHealth(), "cloud": ProviderHealth()}
    health["local"].probed(ProbeResult(0.012, status=200), 3.0, now=100.0)
    health["local"].probed(ProbeResult(0.020, status=200), 3.0, now=160.0)
    health["cloud"].probed(ProbeResult(1.0, error="refused"), 3.0, now=160.0)
    problems = {"cloud": Diagnosis("refused", {"where": "127.0.0.1:9"}, via="GET /models")}
    doc = document(router.config, router, health, problems, {}, [], now=170.0)
    local, cloud = doc["providers"]
    assert (local["state"], local["latency_ms"], local["history"]) == (
        "ok",
        20.0,
        [[100.0, 12.0, "ok"], [160.0, 20.0, "ok"]],
    )
    assert (cloud["state"], cloud["cause"], cloud["fix"], cloud["history"]) == (
        "unreachable",
        "GET /models: connection refused or failed at 127.0.0.1:9",
        "the server is not running there, or a firewall blocks it: start it, or correct base_url",
        [[160.0, None, "unreachable"]],
    )
    # beside the English, what the page needs to say it in its reader's language
    assert cloud["diagnosis"] == {"code": "refused", "fix_code": "refused", "params": {"where": "127.0.0.1:9"},
                                  "via": "GET /models"}  # fmt: skip
    assert cloud["key"] == "literal" and SECRET not in json.dumps(doc)  # fmt: skip


def test_model_rows_mark_the_guessed_window_and_show_what_discovery_found_beyond_the_list() -> None:
    router = config_with_models()
    local = model_rows(router.config.providers[0], router)
    assert [(r["id"], r["source"], r["context_window_source"]) for r in local] == [
        ("llama3.2", "discovered", "provider")
    ]
    cloud = {r["id"]: r for r in model_rows(router.config.providers[1], router)}
    assert cloud["big"]["capabilities"] == {"vision": True, "tools": True, "reasoning": None}  # config + listing
    assert (cloud["big"]["source"], cloud["big"]["context_window"], cloud["big"]["tags"]) == (
        "config",
        200000,
        ["main"],
    )
    assert (cloud["extra"]["source"], cloud["extra"]["context_window"], cloud["extra"]["context_window_source"]) == (
        "unlisted", 128000, "default")  # fmt: skip
    listed = model_rows(config_with_models(list_discovered=True).config.providers[1], config_with_models(True))
    assert [(r["id"], r["source"]) for r in listed] == [("big", "config"), ("extra", "discovered")]


def test_model_rows_carry_their_tool_health_and_the_rest_is_counted_as_other() -> None:
    router = config_with_models()
    report = {"verdict": "in_text", "says": "calls in text", "fix": "--jinja", "calls": {"in_text": 1}}
    tool_calls = {"local": {"llama3.2": report, "other": {**report, "verdict": "never"}}}
    doc = document(router.config, router, {}, {}, {}, [], now=1.0, tool_calls=tool_calls)
    local, cloud = doc["providers"]
    assert {m["id"]: m["tool_calls"] for m in local["models"]}["llama3.2"] == report
    assert local["tool_calls_other"]["verdict"] == "never"
    assert all(m["tool_calls"] is None for m in cloud["models"]) and cloud["tool_calls_other"] is None

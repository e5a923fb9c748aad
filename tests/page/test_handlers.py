"""The page's requests over real HTTP: its files, its data, and who may change what."""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from proxyd.page.handlers import CSP
from proxyd.probes import HEALTH
from tests.conftest import FakeUpstream
from tests.page.conftest import PageClient
from tests.page.fakes import ollama_like

Factory = Callable[..., Awaitable[PageClient]]
SECRET = "sk-page-secret-5150"
TOKEN = "proxyd-page-token-77"


def yaml_for(upstream: FakeUpstream, extra: str = "") -> str:
    return f"""# my proxyd
health: {{interval_s: 0}}
{extra}
providers:
  - name: local   # the box under my desk
    base_url: {upstream.base_url}
    wire: chat
    models:
      - id: llama3.2   # the fast one
  - name: cloud
    base_url: http://127.0.0.1:9/v1
    allow_insecure_http: true
    api_key: {SECRET}
"""


@pytest.fixture
async def local(upstream: FakeUpstream) -> FakeUpstream:
    upstream.handler = ollama_like()
    return upstream


async def test_the_page_and_its_files_carry_a_strict_policy_and_no_key(
    page_factory: Factory, local: FakeUpstream
) -> None:
    client = await page_factory(yaml_for(local))
    async with client.session.get(client.origin + "/") as resp:
        html = await resp.text()
        assert resp.status == 200 and resp.content_type == "text/html"
        assert resp.headers["Content-Security-Policy"] == CSP and "'unsafe-inline'" not in CSP
        assert resp.headers["Cache-Control"] == "no-store"
    for path, ctype in (("/ui/page.js", "text/javascript"), ("/ui/page.css", "text/css")):
        async with client.session.get(client.origin + path) as resp:
            assert (resp.status, resp.content_type) == (200, ctype)
            assert "http://" not in (await resp.text()).replace("http://www.w3.org/2000/svg", "")  # nothing external
    await client.open_page()
    state = await client.state()
    assert [p["name"] for p in state["providers"]] == ["local", "cloud"] and state["editable"]
    assert SECRET not in html and SECRET not in str(state) and state["providers"][1]["key"] == "literal"


async def test_each_page_load_gets_a_fresh_anti_csrf_value(page_factory: Factory, local: FakeUpstream) -> None:
    client = await page_factory(yaml_for(local))
    await client.open_page()
    first = client.csrf
    await client.open_page()
    assert first and client.csrf and first != client.csrf


async def test_with_a_token_the_page_opens_but_its_data_needs_the_token(
    page_factory: Factory, local: FakeUpstream
) -> None:
    client = await page_factory(yaml_for(local, f"listen: {{token: {TOKEN}}}"))
    await client.open_page()
    assert client.csrf
    async with client.session.get(client.origin + "/ui/api/state") as resp:
        assert resp.status == 401
    assert (await client.state(Authorization=f"Bearer {TOKEN}"))["providers"]
    status, _ = await client.send("POST", "set", {"provider": "local", "key": "wire", "value": "auto"})
    assert status == 401


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Origin": ""}, 403, "not_own_page"),  # curl-like, or a page whose browser sent no Origin
        ({"Origin": "http://evil.example"}, 403, "origin_not_allowed"),  # the guard's rule
        ({"Origin": "http://localhost:3000"}, 403, "not_own_page"),  # allowed to call the API, not to edit
        ({"X-Proxyd-Page": ""}, 403, "stale_page"),
        ({"X-Proxyd-Page": "abc.def"}, 403, "stale_page"),
    ],
)
async def test_changes_come_only_from_proxyds_own_page(
    page_factory: Factory, local: FakeUpstream, headers: dict[str, str], status: int, code: str
) -> None:
    client = await page_factory(yaml_for(local, "listen: {allowed_origins: ['http://localhost:3000']}"))
    await client.open_page()
    before = client.path.read_text()
    for method, action, body in (
        ("POST", "set", {"provider": "local", "key": "wire", "value": "auto"}),
        ("DELETE", "providers/local", None),
        ("POST", "providers", {"name": "x", "base_url": "http://127.0.0.1:1/v1"}),
        ("POST", "test", {"provider": "local"}),
    ):
        got, answer = await client.send(method, action, body, **headers)
        assert (got, answer["error"]["code"]) == (status, code)
    assert client.path.read_text() == before and not local.seen


async def test_set_keeps_comments_and_is_in_force_at_once(page_factory: Factory, local: FakeUpstream) -> None:
    client = await page_factory(yaml_for(local))
    await client.open_page()
    for key, value in (("context_window", 32768), ("capabilities.vision", True), ("tags", "sandbox, free")):
        status, done = await client.send(
            "POST", "set", {"provider": "local", "model": "llama3.2", "key": key, "value": value}
        )
        assert status == 200, done
    text = client.path.read_text()
    assert "# my proxyd" in text and "# the box under my desk" in text and "# the fast one" in text
    row = (await client.state())["providers"][0]["models"][0]
    assert (row["context_window"], row["context_window_source"], row["capabilities"]["vision"], row["tags"]) == (
        32768, "config", True, ["sandbox", "free"])  # fmt: skip
    status, _ = await client.send(
        "POST", "set", {"provider": "local", "model": "llama3.2", "key": "context_window", "value": None}
    )
    assert status == 200 and "context_window" not in client.path.read_text()


async def test_a_value_for_one_discovered_model_keeps_the_others_listed(
    page_factory: Factory, local: FakeUpstream
) -> None:
    client = await page_factory(f"providers:\n  - name: local\n    base_url: {local.base_url}\n    wire: chat\n")
    await client.open_page()
    await client.running.app[HEALTH].probe_all()
    status, _ = await client.send(
        "POST", "set", {"provider": "local", "model": "qwen2.5-coder:7b", "key": "context_window", "value": 32768}
    )
    assert status == 200
    rows = {r["id"]: r for r in (await client.state())["providers"][0]["models"]}
    assert (rows["qwen2.5-coder:7b"]["source"], rows["llama3.2"]["source"]) == ("config", "discovered")
    assert "list_discovered: true" in client.path.read_text()


async def test_add_with_a_pasted_key_keeps_it_out_of_the_yaml(page_factory: Factory, local: FakeUpstream) -> None:
    client = await page_factory(yaml_for(local))
    await client.open_page()
    form = {"name": "desk", "base_url": local.base_url, "wire": "chat", "key": {"kind": "paste", "value": "sk-pasted-42"},
            "models": ["llama3.2"]}  # fmt: skip
    status, found = await client.send("POST", "catalog", form)
    assert status == 200 and found["ok"] and [m["id"] for m in found["models"]] == ["llama3.2", "qwen2.5-coder:7b"]
    assert local.last.headers["Authorization"] == "Bearer sk-pasted-42"  # the catalog fetch used it
    status, done = await client.send("POST", "providers", form)
    assert status == 200 and "sk-pasted-42" not in str(done)
    text = client.path.read_text()
    assert "sk-pasted-42" not in text and "api_key_file: keys/desk" in text and "# the fast one" in text
    key_file = client.path.parent / "keys" / "desk"
    assert key_file.read_text().strip() == "sk-pasted-42" and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    async with client.session.post(
        client.origin + "/v1/chat/completions",
        json={"model": "desk/llama3.2", "messages": [{"role": "user", "content": "hi"}]},
    ) as resp:
        assert resp.status == 200  # fmt: skip
    assert local.last.headers["Authorization"] == "Bearer sk-pasted-42"


async def test_add_refuses_a_variable_no_provider_uses(page_factory: Factory, local: FakeUpstream) -> None:
    client = await page_factory(yaml_for(local))
    await client.open_page()
    assert "PROXYD_TEST_NOT_SET" not in os.environ
    before = client.path.read_text()
    form = {
        "name": "groq",
        "base_url": "https://api.groq.com/openai/v1",
        "key": {"kind": "env", "value": "PROXYD_TEST_NOT_SET"},
    }
    status, answer = await client.send("POST", "providers", form)
    assert status == 400 and answer["error"]["param"] == "key.value"
    assert "only when a provider of the config already does" in answer["error"]["message"]
    assert client.path.read_text() == before


async def test_remove_and_refusals_in_words(page_factory: Factory, local: FakeUpstream) -> None:
    client = await page_factory(yaml_for(local))
    await client.open_page()
    status, _ = await client.send("DELETE", "providers/cloud")
    assert status == 200 and [p["name"] for p in (await client.state())["providers"]] == ["local"]
    status, answer = await client.send("DELETE", "providers/cloud")
    assert status == 409 and "no provider named 'cloud'" in answer["error"]["message"]
    status, answer = await client.send("POST", "providers", {"name": "local", "base_url": local.base_url})
    assert status == 409 and "exists already" in answer["error"]["message"]
    status, answer = await client.send("POST", "set", {"provider": "local", "key": "api_key", "value": "sk-x"})
    assert (status, answer["error"]["param"]) == (400, "key")


async def test_catalog_of_a_dead_server_says_why_and_how_to_fix(page_factory: Factory, local: FakeUpstream) -> None:
    client = await page_factory(yaml_for(local))
    await client.open_page()
    status, found = await client.send("POST", "catalog", {"name": "lm", "base_url": "http://127.0.0.1:9/v1"})
    assert status == 200 and not found["ok"] and found["models"] == []
    assert "connection refused" in found["cause"] and "start it" in found["fix"]


async def test_test_runs_the_one_token_probe_and_the_card_keeps_it(page_factory: Factory, local: FakeUpstream) -> None:
    client = await page_factory(yaml_for(local))
    await client.open_page()
    status, verdict = await client.send("POST", "test", {"provider": "local"})
    assert status == 200 and verdict["ok"] and verdict["latency_ms"] > 0 and "curl" in verdict["curl"]
    assert local.last.json()["max_tokens"] == 1
    card = (await client.state())["providers"][0]
    assert card["test"]["ok"] and card["test"]["latency_ms"] == verdict["latency_ms"]
    status, answer = await client.send("POST", "test", {"provider": "nope"})
    assert (status, answer["error"]["code"]) == (404, "unknown_provider")


async def test_without_a_config_file_the_page_only_shows(proxy_factory: Any, local: FakeUpstream) -> None:
    proxy = await proxy_factory({"providers": [{"name": "local", "base_url": local.base_url}]})
    async with proxy.get("/") as resp:
        html = await resp.text()
    async with proxy.get("/ui/api/state") as resp:
        state = await resp.json()
    assert not state["editable"] and "without a config file" in state["not_editable"]
    csrf = html.split('name="proxyd-page" content="')[1].split('"')[0]
    headers = {"Origin": proxy.origin, "X-Proxyd-Page": csrf}
    async with proxy.post(
        "/ui/api/set", json={"provider": "local", "key": "wire", "value": "chat"}, headers=headers
    ) as resp:
        assert resp.status == 409 and (await resp.json())["error"]["code"] == "not_editable"
    async with proxy.get("/ui/nothing") as resp:
        assert resp.status == 404


async def test_an_edit_of_a_broken_file_says_where_in_words(page_factory: Factory, local: FakeUpstream) -> None:
    client = await page_factory(yaml_for(local))
    await client.open_page()
    broken = client.path.read_text().replace("    wire: chat", "    wire chat", 1)  # a ':' lost while editing by hand
    client.path.write_text(broken)
    line = broken.splitlines().index("    wire chat") + 1
    for method, action, body in (("POST", "set", {"provider": "local", "key": "streaming", "value": False}),
                                 ("DELETE", "providers/cloud", None)):  # fmt: skip
        status, answer = await client.send(method, action, body)
        message = answer["error"]["message"]
        assert status == 409 and f"proxyd.yaml:{line}:" in message and "invalid YAML" in message, answer
        assert "nothing was changed" in message
    assert client.path.read_text() == broken


async def test_a_set_says_the_value_as_yaml_writes_it(page_factory: Factory, local: FakeUpstream) -> None:
    client = await page_factory(yaml_for(local))
    await client.open_page()
    status, answer = await client.send("POST", "set", {"provider": "local", "key": "streaming", "value": False})
    assert status == 200 and answer["done"] == "set local.streaming = false"  # not Python's False
    # and what the page needs to say it in its own language
    assert answer["did"] == {"code": "set", "where": "local.streaming", "value": False}

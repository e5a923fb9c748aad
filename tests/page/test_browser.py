"""The page in a real headless Chromium (Debian's, driven by playwright), against a real
``proxyd serve`` process and real fake servers on loopback. Screenshots go to
``.artifacts/page/``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from playwright.async_api import Browser, ConsoleMessage, Page

from proxyd.onboard.finds import LOCAL_SERVERS
from tests.conftest import FakeUpstream
from tests.fakes.scripted import chat_server
from tests.helpers import WAIT, arun, eventually, start_serve
from tests.page.fakes import ollama_like
from tests.spend.test_ledger import ONE_REQUEST_MICROS, PRICE, usage_server
from tests.test_attempts import failing
from tests.toolcalls.clients import request_for

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "page"


def config_text(local: FakeUpstream) -> str:
    return f"""# proxyd on my laptop
health: {{interval_s: 1, timeout_s: 2}}
default_provider: ollama
providers:
  - name: ollama   # started by systemd
    base_url: {local.base_url}
    wire: chat
  - name: lmstudio   # only when I start it
    base_url: http://127.0.0.1:9/v1
    wire: chat
"""


@contextlib.asynccontextmanager
async def serving(path: Path) -> AsyncIterator[str]:
    """``proxyd serve`` on ``path`` while the block runs: the page's URL; stopped by its PID after."""
    proc, api = await start_serve(path)
    assert proc.stderr is not None
    drain = asyncio.create_task(proc.stderr.read())  # the log must not fill the pipe
    try:
        yield api.removesuffix("/v1")
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), WAIT)
        drain.cancel()


def laptop(tmp_path: Path, upstream: FakeUpstream, extra: str = "") -> Path:
    """The laptop's config (``extra`` appended) with an Ollama-like ``upstream``, written to a file."""
    upstream.handler = ollama_like()
    path = tmp_path / "proxyd.yaml"
    path.write_text(config_text(upstream) + extra)
    return path


@pytest.fixture
async def serve(tmp_path: Path, upstream: FakeUpstream) -> AsyncIterator[tuple[str, Path, FakeUpstream]]:
    path = laptop(tmp_path, upstream)
    async with serving(path) as url:
        yield url, path, upstream


async def open_page(browser: Browser, url: str, locale: str = "en-US") -> tuple[Page, list[str]]:
    """The page as a browser whose language is ``locale`` opens it; the console's errors."""
    context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(url + "/")
    return page, problems


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def state(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(url + "/ui/api/state") as resp:
        return await resp.json()  # type: ignore[no-any-return]


def card(name: str, at_state: str | None = None) -> str:
    return f'article[data-provider="{name}"]' + (f'[data-state="{at_state}"]' if at_state else "")


async def test_dots_test_button_and_a_provider_going_down(browser: Browser, serve: Any) -> None:
    url, _, local = serve
    page, problems = await open_page(browser, url)
    await page.wait_for_selector(card("ollama", "ok") + " .dot.ok", timeout=WAIT * 1000)
    await page.wait_for_selector(card("lmstudio", "unreachable") + " .dot.unreachable", timeout=WAIT * 1000)
    assert "connection refused" in await page.inner_text(card("lmstudio") + ' [data-field="problem"]')

    await page.click(card("ollama") + ' button[data-action="test"]')
    await page.wait_for_selector(card("ollama") + ' [data-field="test"]', timeout=WAIT * 1000)
    text = await page.inner_text(card("ollama") + ' [data-field="test"]')
    assert "answered in" in text and " ms " in text and "curl -sS" in text
    await shot(page, "providers")

    probes_before = len((await state(url))["providers"][0]["history"])
    assert local.server is not None
    await local.server.close()  # the provider goes down
    await page.wait_for_selector(card("ollama", "unreachable") + " .dot.unreachable", timeout=WAIT * 1000)
    history = (await state(url))["providers"][0]["history"]
    first_red = next(i for i, (_, _, st) in enumerate(history) if st == "unreachable")
    assert first_red <= probes_before, "it turned red at the first probe after it went down"
    await shot(page, "provider-down")
    assert problems == []


async def test_add_provider_and_a_badge_toggle_reach_the_config(browser: Browser, serve: Any) -> None:
    url, path, local = serve
    page, problems = await open_page(browser, url)
    await page.wait_for_selector(card("ollama", "ok"), timeout=WAIT * 1000)

    await page.click("#add-open")
    await page.fill('#add-form input[name="name"]', "desk")
    await page.fill('#add-form input[name="base_url"]', local.base_url)
    await page.select_option('#add-form select[name="wire"]', "chat")
    await page.fill('#add-form textarea[name="headers"]', "X-Title=proxyd")
    await page.click("#add-check")
    await page.wait_for_selector("#add-result .pick input[value='qwen2.5-coder:7b']", timeout=WAIT * 1000)
    await page.check("#add-result .pick input[value='qwen2.5-coder:7b']")
    assert " with 2 models at " in await page.inner_text("#add-result")
    typed = page.locator("#add-result input.typed")  # wide enough that its placeholder is read whole
    assert await typed.evaluate("el => el.scrollWidth <= el.clientWidth + 1 && el.clientWidth >= 300")
    await shot(page, "add-provider")
    await page.click("#add-save")
    await page.wait_for_selector(card("desk"), timeout=WAIT * 1000)
    written = path.read_text()
    assert (
        "# proxyd on my laptop" in written and "# started by systemd" in written and "# only when I start it" in written
    )
    desk = yaml.safe_load(written)["providers"][2]
    assert desk == {"name": "desk", "base_url": local.base_url, "wire": "chat", "headers": {"X-Title": "proxyd"},
                    "default_model": "llama3.2", "models": [{"id": "llama3.2"}, {"id": "qwen2.5-coder:7b"}]}  # fmt: skip
    code, out, err = await arun("validate", "--config", str(path))
    assert code == 0, out + err

    await page.click('button[data-tab="models"]')
    badge = '[data-models-of="desk"] tr[data-model="qwen2.5-coder:7b"] button[data-capability="vision"]'
    await page.click(badge)
    await eventually(lambda: _read(path, "vision: true"), "the toggle written to the config")
    await page.wait_for_selector(badge + '[aria-pressed="true"]', timeout=WAIT * 1000)
    window = '[data-models-of="desk"] tr[data-model="llama3.2"] input.window'
    await page.fill(window, "32768")
    await page.press(window, "Enter")
    await eventually(lambda: _read(path, "context_window: 32768"), "the context window written to the config")
    await shot(page, "models")
    entry = yaml.safe_load(path.read_text())["providers"][2]["models"]
    assert entry == [{"id": "llama3.2", "context_window": 32768},
                     {"id": "qwen2.5-coder:7b", "capabilities": {"vision": True}}]  # fmt: skip

    async with aiohttp.ClientSession() as session:
        chat = {"model": "desk/llama3.2", "messages": [{"role": "user", "content": "hi"}]}
        async with session.post(url + "/v1/chat/completions", json=chat) as resp:
            assert resp.status == 200
    await page.click('button[data-tab="traffic"]')
    await page.wait_for_selector('[data-traffic-of="desk"]', timeout=WAIT * 1000)
    await shot(page, "traffic")
    assert problems == []


async def _read(path: Path, text: str) -> bool:
    return text in await asyncio.to_thread(path.read_text)


EVIL = """<!doctype html><title>cat pictures</title><body><form id="f" method="POST" target="sink"
 enctype="text/plain"><input name='{"provider": "ollama", "key": "wire", "value": "auto", "x": "' value='"}'></form>
<iframe name="sink"></iframe><div id="log"></div><script>
const proxyd = "PROXYD";
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
async function attack() {
  const set = JSON.stringify({provider: "ollama", key: "wire", value: "auto"});
  for (const mode of ["cors", "no-cors"]) {
    try {
      const r = await fetch(proxyd + "/ui/api/set", {method: "POST", mode, body: set,
        headers: mode === "cors" ? {"Content-Type": "application/json", "X-Proxyd-Page": "guess.guess"} : {}});
      log(mode + " set: " + r.status + " " + r.type);
    } catch (e) { log(mode + " set: blocked"); }
  }
  try { await fetch(proxyd + "/ui/api/providers/lmstudio", {method: "DELETE"}); log("delete: sent"); }
  catch (e) { log("delete: blocked"); }
  try { const r = await fetch(proxyd + "/ui/api/state"); log("read state: " + (await r.text()).length); }
  catch (e) { log("read state: blocked"); }
  try { const r = await fetch(proxyd + "/", {mode: "no-cors"}); log("read page: " + r.type); }
  catch (e) { log("read page: blocked"); }
  const f = document.getElementById("f");
  f.action = proxyd + "/ui/api/set";
  f.submit();
  setTimeout(() => { document.title = "done"; }, 1500);
}
attack();
</script></body>"""


async def test_a_cross_site_page_cannot_change_or_read_anything(
    browser: Browser, serve: Any, aiohttp_server: Any
) -> None:
    url, path, local = serve
    before = path.read_text()

    async def cats(_: web.Request) -> web.Response:
        return web.Response(text=EVIL.replace("PROXYD", url), content_type="text/html")

    evil = web.Application()
    evil.router.add_get("/", cats)
    server = await aiohttp_server(evil)  # another port: another origin
    page = await browser.new_page()
    await page.goto(str(server.make_url("/")))
    await page.wait_for_function("document.title === 'done'", timeout=WAIT * 1000)
    log = await page.inner_text("#log")
    assert "read state: blocked" in log and "cors set: blocked" in log and "read page: opaque" in log
    await shot(page, "cross-site")
    assert path.read_text() == before
    after = await state(url)
    assert [p["name"] for p in after["providers"]] == ["ollama", "lmstudio"] and after["providers"][0]["wire"] == "chat"
    # nothing spent a token either (proxyd's own /api/show, which asks Ollama a model's window, spends none)
    assert not any(s.method == "POST" and s.path != "/api/show" for s in local.seen)
    assert "ollama" not in log  # nothing of the state leaked into the page


async def test_the_first_five_minutes_init_then_serve_shows_ollama_green(
    browser: Browser, tmp_path: Path, upstream: FakeUpstream
) -> None:
    upstream.handler = ollama_like()
    assert upstream.server is not None
    with socket.socket() as closed:  # bound, never listening: every other usual server is absent
        closed.bind(("127.0.0.1", 0))
        ports = {name: closed.getsockname()[1] for name, _, _ in LOCAL_SERVERS} | {"ollama": upstream.server.port}
        port_args = [arg for name, port in ports.items() for arg in ("--port", f"{name}={port}")]
        config = tmp_path / "config.yaml"
        code, out, err = await arun("init", "--yes", "--config", str(config), *port_args, env={"HOME": str(tmp_path)})
    assert code == 0 and "http://127.0.0.1:8787/" in out, err  # it tells where the page is
    async with serving(config) as url:
        page, problems = await open_page(browser, url)
        await page.wait_for_selector(card("ollama", "ok") + " .dot.ok", timeout=WAIT * 1000)
        await shot(page, "after-init")
        assert problems == []


async def test_a_resting_group_target_shows_with_its_time_left(
    browser: Browser, tmp_path: Path, upstream_factory: Any
) -> None:
    limited, good = await upstream_factory(), await upstream_factory()
    limited.handler, good.handler = failing(429, {"Retry-After": "120"}), ollama_like(("qwen3",))
    path = tmp_path / "proxyd.yaml"
    path.write_text(f"""health: {{interval_s: 0}}
providers:
  - {{name: limited, base_url: "{limited.base_url}", wire: chat}}
  - {{name: good, base_url: "{good.base_url}", wire: chat}}
groups:
  - {{alias: main, targets: [limited/qwen3, good/qwen3]}}
""")
    async with serving(path) as url:
        async with aiohttp.ClientSession() as session:
            chat = {"model": "main", "messages": [{"role": "user", "content": "hi"}]}
            async with session.post(url + "/v1/chat/completions", json=chat) as resp:
                assert resp.headers["x-proxyd-provider"] == "good"
        page, problems = await open_page(browser, url)
        resting = '[data-group="main"] [data-target="limited/qwen3"][data-resting="yes"]'
        await page.wait_for_selector(resting, timeout=WAIT * 1000)
        text = await page.inner_text(resting)
        assert "resting 1" in text and "HTTP 429" in text  # 120 s or a little less
        await shot(page, "group-resting")
        assert problems == []


async def test_a_model_that_writes_its_calls_as_text_shows_the_fix(
    browser: Browser, tmp_path: Path, upstream: FakeUpstream
) -> None:
    upstream.handler = chat_server
    path = tmp_path / "proxyd.yaml"
    path.write_text(f"health: {{interval_s: 0}}\nproviders:\n  - {{name: vllm, base_url: \"{upstream.base_url}\", "
                    "wire: chat, models: [qwen, llama]}\n")  # fmt: skip
    async with serving(path) as url:
        async with aiohttp.ClientSession() as session:
            for model, said in (("qwen", "text:hermes"), ("llama", "call:ok")):
                body = request_for("chat", f"vllm/{model}", said, stream=False)
                async with session.post(url + "/v1/chat/completions", json=body) as resp:
                    assert resp.status == 200
        page, problems = await open_page(browser, url)
        await page.click('button[data-tab="models"]')
        in_text = '[data-models-of="vllm"] tr[data-model="qwen"] [data-tool-verdict="in_text"]'
        await page.wait_for_selector(in_text, timeout=WAIT * 1000)
        assert "--tool-call-parser hermes" in await page.inner_text(in_text)
        well = '[data-models-of="vllm"] tr[data-model="llama"] [data-tool-verdict="well"]'
        assert "calls tools well" in await page.inner_text(well)
        await shot(page, "tool-health")
        assert problems == []


async def test_a_client_token_gets_a_refused_page_and_a_viewer_a_read_only_one(
    browser: Browser, tmp_path: Path, upstream: FakeUpstream
) -> None:
    path = laptop(
        tmp_path,
        upstream,
        """listen:
  tokens:
    - {name: ann, token: ann-admin-token-0001, role: admin}
    - {name: vic, token: vic-viewer-token-0001, role: viewer}
    - {name: cal, token: cal-client-token-0001}
""",
    )
    async with serving(path) as url:
        page, problems = await open_page(browser, url)
        await page.wait_for_selector("#token:not([hidden])", timeout=WAIT * 1000)
        await page.fill("#token-input", "cal-client-token-0001")
        await page.press("#token-input", "Enter")
        await page.wait_for_selector("body.refused #notice:not([hidden])", timeout=WAIT * 1000)
        said = await page.inner_text("#notice")
        assert "role client" in said and "role: viewer" in said
        assert await page.locator("article.card").count() == 0  # nothing of proxyd's state was shown
        assert await page.locator("#add-open").is_hidden()
        await shot(page, "refused-client-token")

        await page.fill("#token-input", "vic-viewer-token-0001")
        await page.press("#token-input", "Enter")
        await page.wait_for_selector(card("ollama", "ok"), timeout=WAIT * 1000)
        assert not await page.locator("body.refused").count() and await page.locator("#notice").is_hidden()
        for action in ("test", "edit", "delete"):
            assert await page.locator(f'button[data-action="{action}"]').count() == 0
        assert await page.locator("#add-open").is_hidden()
        assert "read-only" in await page.inner_text("#config-path")
        assert "shown to admins" in await page.inner_text(card("ollama"))
        await shot(page, "read-only-viewer")

        await page.evaluate("sessionStorage.setItem('proxyd-token', 'ann-admin-token-0001')")
        await page.reload()
        await page.wait_for_selector(card("ollama") + ' button[data-action="test"]', timeout=WAIT * 1000)
        assert not await page.is_disabled("#add-open")
        # Chromium logs each refused call (the 401 before a token, the client's 403s) as a failed load
        assert all("status of 401" in p or "status of 403" in p for p in problems), problems


async def test_a_failed_reload_stays_on_top_until_a_good_one(browser: Browser, serve: Any) -> None:
    url, path, _ = serve
    page, problems = await open_page(browser, url)
    await page.wait_for_selector(card("ollama", "ok"), timeout=WAIT * 1000)
    assert await page.locator("#reload-failed").is_hidden()
    good = path.read_text()
    broken = good.replace("    wire: chat", "    wire chat", 1)
    path.write_text(broken)
    line = broken.splitlines().index("    wire chat") + 1
    await page.wait_for_selector("#reload-failed:not([hidden])", timeout=WAIT * 1000)
    said = await page.inner_text("#reload-failed")
    assert "did not load (since " in said and f"proxyd.yaml:{line}:" in said and f"line {line}:     wire chat" in said
    await shot(page, "reload-failed")
    path.write_text(good)
    await page.wait_for_selector("#reload-failed[hidden]", state="attached", timeout=WAIT * 1000)
    assert problems == []


async def test_a_provider_whose_key_is_not_set_is_red_with_the_fix(
    browser: Browser, tmp_path: Path, upstream: FakeUpstream
) -> None:
    path = laptop(
        tmp_path,
        upstream,
        """  - name: openrouter
    base_url: https://openrouter.ai/api/v1
    api_key: ${PROXYD_TEST_UNSET_OPENROUTER_KEY}
""",
    )
    async with serving(path) as url:
        page, problems = await open_page(browser, url)
        await page.wait_for_selector(card("openrouter", "misconfigured") + " .dot.misconfigured", timeout=WAIT * 1000)
        said = await page.inner_text(card("openrouter") + ' [data-field="problem"]')
        assert "PROXYD_TEST_UNSET_OPENROUTER_KEY is not set in proxyd's environment" in said
        assert "Fix: export it in the shell" in said and "Environment=PROXYD_TEST_UNSET_OPENROUTER_KEY=" in said
        await page.wait_for_selector(card("ollama", "ok"), timeout=WAIT * 1000)  # the rest works
        await shot(page, "key-not-set")
        assert problems == []


async def test_a_base_url_without_v1_shows_red_with_the_working_form(
    browser: Browser, tmp_path: Path, upstream: FakeUpstream
) -> None:
    upstream.handler = ollama_like()
    origin = upstream.base_url.removesuffix("/v1")
    path = tmp_path / "proxyd.yaml"
    path.write_text(f"health: {{interval_s: 1, timeout_s: 2}}\nproviders:\n  - name: vllm\n    base_url: {origin}\n")
    async with serving(path) as url:
        page, problems = await open_page(browser, url)
        await page.wait_for_selector(card("vllm", "misconfigured") + " .dot.misconfigured", timeout=WAIT * 1000)
        said = await page.inner_text(card("vllm") + ' [data-field="problem"]')
        assert "the base_url is not the API root" in said and f"Fix: set base_url: {origin}/v1" in said
        await shot(page, "base-url-without-v1")
        assert problems == []


async def test_the_usage_tab_draws_spend_budgets_and_the_top_clients(
    browser: Browser, tmp_path: Path, upstream: FakeUpstream
) -> None:
    upstream.handler = usage_server
    path = tmp_path / "proxyd.yaml"
    path.write_text(yaml.safe_dump({
        "listen": {"tokens": [{"name": "ann", "token": "ann-admin-token-0002", "role": "admin",
                               "budget": {"usd_per_day": 0.05}}]},
        "ledger": {"path": str(tmp_path / "usage.sqlite3"), "flush_s": 0.1},
        "health": {"interval_s": 0},
        "providers": [{"name": "cloud", "base_url": upstream.base_url, "wire": "chat", "price": PRICE,
                       "models": ["gpt-x"]}],
    }))  # fmt: skip
    async with serving(path) as url:
        headers = {"Authorization": "Bearer ann-admin-token-0002"}
        async with aiohttp.ClientSession(headers=headers) as session:
            for _ in range(3):
                body = {"model": "cloud/gpt-x", "messages": [{"role": "user", "content": "hi"}]}
                async with session.post(url + "/v1/chat/completions", json=body) as resp:
                    assert resp.status == 200
        page, problems = await open_page(browser, url)
        await page.evaluate("sessionStorage.setItem('proxyd-token', 'ann-admin-token-0002')")
        await page.reload()
        await page.click('button[data-tab="usage"]')
        spent = 3 * ONE_REQUEST_MICROS / 1e6
        await page.wait_for_selector('tr[data-usage-client="ann"]', timeout=WAIT * 1000)
        assert f"${spent:.2f}" in await page.inner_text('tr[data-usage-client="ann"]')
        assert await page.locator("svg.spend rect").count() == 30
        today = await page.locator("svg.spend rect").last.text_content() or ""
        assert f"${spent:.2f}, 3 requests" in today
        meter = page.locator('[data-budget-of="client:ann:day"] .meter')
        assert float(await meter.get_attribute("data-used") or 0) == pytest.approx(spent / 0.05, abs=0.001)
        await shot(page, "usage-tab")
        assert all("status of 401" in p for p in problems), problems  # the first load, before the token


async def test_a_local_servers_card_starts_and_stops_it(browser: Browser, tmp_path: Path) -> None:
    from tests.local.conftest import fake_provider

    path = tmp_path / "proxyd.yaml"
    path.write_text(yaml.safe_dump({"health": {"interval_s": 0}, "providers": [fake_provider("gemma", load_s=1.0)]}))
    async with serving(path) as url:
        page, problems = await open_page(browser, url)
        field = card("gemma") + ' [data-field="local"]'
        await page.wait_for_selector(field, timeout=WAIT * 1000)
        assert (await page.inner_text(field)).startswith("stopped for ")
        await page.click(card("gemma") + ' button[data-action="start"]')
        await page.wait_for_selector(card("gemma") + ' button[data-action="stop"]', timeout=WAIT * 1000)
        text = await page.inner_text(field)
        assert (
            text.startswith("ready for ") and "loads in 1." in text and "4,096-token context" in text
        )  # Intl: the language's digit groups
        await shot(page, "local-server")
        await page.click(card("gemma") + ' button[data-action="stop"]')
        await page.wait_for_selector(card("gemma") + ' button[data-action="start"]', timeout=WAIT * 1000)
        assert (await page.inner_text(field)).startswith("stopped for ")
        assert problems == []


async def test_a_providers_model_servers_each_get_a_line_and_buttons(browser: Browser, tmp_path: Path) -> None:
    from tests.local.conftest import fake_provider

    qwen, gemma = fake_provider("qwen"), fake_provider("gemma")
    provider = {"name": "llama", "base_url": qwen["base_url"], "wire": "chat",
                "models": [{"id": "qwen", "command": qwen["command"]}, {"id": "gemma", "command": gemma["command"]}]}  # fmt: skip
    path = tmp_path / "proxyd.yaml"
    path.write_text(yaml.safe_dump({"health": {"interval_s": 0}, "providers": [provider]}))
    async with serving(path) as url:
        page, problems = await open_page(browser, url)
        qwen_line = card("llama") + ' [data-field="local"][data-model="qwen"]'
        await page.wait_for_selector(qwen_line, timeout=WAIT * 1000)
        assert (await page.inner_text(card("llama") + ' [data-model="gemma"]')).startswith("stopped for ")
        await page.click(card("llama") + ' button[data-action="start"][data-server="llama/qwen"]')
        await page.wait_for_selector(card("llama") + ' button[data-action="stop"][data-server="llama/qwen"]',
                                     timeout=WAIT * 1000)  # fmt: skip
        assert (await page.inner_text(qwen_line)).startswith("ready for ")
        await shot(page, "local-model-servers")
        assert problems == []

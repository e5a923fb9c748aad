"""The page in each of its languages, in a real headless Chromium against a real ``proxyd serve``:
the language follows the browser's, the header's switch changes it and the tab keeps it, and
each language shows the same page (cards, a diagnosis, a Test, the add form's check, a local
server, a model group, Models, Traffic, Usage) with no console error, no key instead of a text,
no slot left unfilled, and nothing cut off or pushed out of the page by its longest words.
Screenshots go to ``.artifacts/page/lang-LANG-*.png``."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from playwright.async_api import Browser, Page

from tests.conftest import FakeUpstream
from tests.helpers import WAIT
from tests.local.conftest import fake_provider
from tests.page.fakes import ollama_like
from tests.page.test_browser import ARTIFACTS, card, open_page, serving
from tests.page.test_catalogs import CATALOGS
from tests.test_attempts import failing

LOCALES = {"en": "en-US", "vi": "vi-VN", "zh": "zh-CN"}
HTML_LANG = {"en": "en", "vi": "vi", "zh": "zh-Hans"}
SLOT = re.compile(r"\{\w+\}")
# Everything drawn: no element may be wider than what holds it, nor the page wider than the window.
LAYOUT = """() => {
  const out = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    const wide = [...document.querySelectorAll("body *")].filter((el) => el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0);
    out.push("the page scrolls sideways: " + wide.slice(-3).map((el) => el.tagName + "." + el.className + " " + el.textContent.slice(0, 80)).join(", "));
  }
  const shown = (el) => el.offsetParent !== null;
  for (const el of document.querySelectorAll("button, th, dt, label, h2, h3, .tab, .state, select, .notice")) {
    if (shown(el) && el.scrollWidth > el.clientWidth + 1) out.push("cut: " + el.tagName + " " + el.textContent.slice(0, 60));
  }
  for (const el of document.querySelectorAll("table, .card, .panel, .budget")) {
    const box = el.getBoundingClientRect(), main = document.querySelector("main").getBoundingClientRect();
    if (shown(el) && box.right > main.right + 1) out.push("out of the page: " + el.className + el.id);
  }
  const head = [...document.querySelectorAll("header > *")].map((el) => el.getBoundingClientRect());
  head.forEach((a, i) => head.slice(i + 1).forEach((b) => {
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) out.push("the header's parts overlap");
  }));
  return out;
}"""


def laptop(tmp_path: Path, upstream: FakeUpstream, limited: FakeUpstream) -> Path:
    """Every kind of card at once: one that works, one refused (a diagnosis), one whose key is not
    set, a local server proxyd runs, a model group whose first target is rate limited, and a
    provider budget."""
    upstream.handler = ollama_like(("llama3.2", "qwen2.5-coder:7b"))
    limited.handler = failing(429, {"Retry-After": "120"})
    path = tmp_path / "proxyd.yaml"
    path.write_text(yaml.safe_dump({
        "health": {"interval_s": 1, "timeout_s": 2},
        "ledger": {"path": str(tmp_path / "usage.sqlite3"), "flush_s": 0.1},
        "providers": [
            {"name": "ollama", "base_url": upstream.base_url, "wire": "chat", "budget": {"usd_per_day": 1}},
            {"name": "lmstudio", "base_url": "http://127.0.0.1:9/v1", "wire": "chat", "models": ["qwen3"]},
            {"name": "openrouter", "base_url": "https://openrouter.ai/api/v1",
             "api_key": "${PROXYD_TEST_UNSET_OPENROUTER_KEY}"},
            fake_provider("gemma"),
            {"name": "limited", "base_url": limited.base_url, "wire": "chat", "models": ["qwen3"]},
            {"name": "vllm", "base_url": upstream.base_url.removesuffix("/v1")},  # its API is at /v1
        ],
        "groups": [{"alias": "main", "targets": ["limited/qwen3", "ollama/llama3.2"]}],
    }))  # fmt: skip
    return path


def said(lang: str, key: str, **params: str) -> str:
    text = CATALOGS[lang][key]
    for name, value in params.items():
        text = text.replace("{" + name + "}", value)
    return text


async def look(page: Page, lang: str, view: str) -> None:
    """What any view must hold to: every text found, every slot filled, nothing cut off."""
    text = await page.inner_text("body")
    shown_keys = [k for k in CATALOGS["en"] if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w.])", text)]
    assert not shown_keys, f"{lang} {view}: keys shown instead of texts: {shown_keys}"
    assert not SLOT.search(text.replace("{repair: true}", "")), f"{lang} {view}: an unfilled slot"
    assert await page.evaluate(LAYOUT) == [], f"{lang} {view}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"lang-{lang}-{view}.png"), full_page=True)


def has_font_for(lang: str) -> bool:
    """A font with the language's characters, without which Chromium draws boxes (and the layout
    check measures boxes): .ci/run installs one for Chinese."""
    if lang != "zh":
        return True
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


@pytest.mark.parametrize("lang", sorted(LOCALES))
async def test_the_page_in_each_language(
    browser: Browser,
    tmp_path: Path,
    upstream: FakeUpstream,
    upstream_factory: Any,
    lang: str,
) -> None:
    assert has_font_for(lang), f"no font for {lang}: install fonts-wqy-microhei (.ci/run does)"
    async with serving(laptop(tmp_path, upstream, await upstream_factory())) as url:
        async with aiohttp.ClientSession() as session:  # a request that rests the group's first target
            chat = {"model": "main", "messages": [{"role": "user", "content": "hi"}]}
            async with session.post(url + "/v1/chat/completions", json=chat) as resp:
                assert resp.status == 200 and resp.headers["x-proxyd-provider"] == "ollama"
        page, problems = await open_page(browser, url, LOCALES[lang])
        await page.wait_for_selector(card("ollama", "ok"), timeout=WAIT * 1000)
        await page.wait_for_selector(card("lmstudio", "unreachable") + ' [data-field="problem"]', timeout=WAIT * 1000)
        assert await page.get_attribute("html", "lang") == HTML_LANG[lang]
        assert await page.inner_text('button[data-tab="providers"]') == CATALOGS[lang]["tab.providers"]
        assert await page.input_value("#lang") == lang

        refused = await page.inner_text(card("lmstudio") + ' [data-field="problem"]')
        if lang == "en":  # English is the server's own words
            assert "GET /models: connection refused or failed at 127.0.0.1:9" in refused
        else:
            assert "GET /models: " + said(lang, "cause.refused", where="127.0.0.1:9") in refused
            assert said(lang, "fix.refused") in refused
        unset = await page.inner_text(card("openrouter") + ' [data-field="problem"]')
        key = "PROXYD_TEST_UNSET_OPENROUTER_KEY"
        assert (said(lang, "cause.key_env_unset", names=key) if lang != "en" else f"{key} is not set") in unset
        assert "Environment=" + key + "=" in unset
        local = await page.inner_text(card("gemma") + ' [data-field="local"]')
        assert CATALOGS[lang]["local.state.stopped"] in local
        misplaced = card("vllm", "misconfigured") + ' [data-field="problem"]'
        await page.wait_for_selector(misplaced, timeout=WAIT * 1000)
        if lang != "en":
            form = upstream.base_url
            assert " ".join(said(lang, "fix.use_form", form=form).split()) in await page.inner_text(misplaced)
        resting = '[data-group="main"] [data-target="limited/qwen3"][data-resting="yes"]'
        await page.wait_for_selector(resting, timeout=WAIT * 1000)
        assert said(lang, "failure.status", status="429") in await page.inner_text(resting)

        await page.click(card("ollama") + ' button[data-action="test"]')
        await page.wait_for_selector(card("ollama") + ' [data-field="test"]', timeout=WAIT * 1000)
        await look(page, lang, "providers")
        await page.set_viewport_size({"width": 900, "height": 860})  # a laptop's half screen
        await look(page, lang, "providers-narrow")
        await page.set_viewport_size({"width": 1280, "height": 860})

        await page.click("#add-open")
        await page.fill('#add-form input[name="name"]', "desk")
        await page.fill('#add-form input[name="base_url"]', "http://127.0.0.1:9/v1")
        await page.click("#add-check")
        await page.wait_for_selector("#add-result .problem", timeout=WAIT * 1000)
        if lang != "en":
            assert said(lang, "cause.refused", where="127.0.0.1:9") in await page.inner_text("#add-result")
        await look(page, lang, "add-provider")
        await page.click("#add-cancel")

        for view in ("models", "traffic", "usage"):
            await page.click(f'button[data-tab="{view}"]')
            await page.wait_for_selector(f"#{view}:not([hidden]) table, #{view}:not([hidden]) h2", timeout=WAIT * 1000)
            if view == "usage":
                await page.wait_for_selector('[data-budget-of="provider:ollama:day"]', timeout=WAIT * 1000)
            await look(page, lang, view)
        assert problems == [], problems


async def test_the_switch_changes_the_language_and_the_tab_keeps_it(
    browser: Browser,
    tmp_path: Path,
    upstream: FakeUpstream,
    upstream_factory: Any,
) -> None:
    async with serving(laptop(tmp_path, upstream, await upstream_factory())) as url:
        page, problems = await open_page(browser, url, "de-DE")  # no German: English
        await page.wait_for_selector(card("ollama", "ok"), timeout=WAIT * 1000)
        assert await page.get_attribute("html", "lang") == "en"
        assert await page.inner_text('button[data-tab="usage"]') == "Usage"
        await page.select_option("#lang", "vi")
        await page.wait_for_selector('html[lang="vi"]', state="attached", timeout=WAIT * 1000)
        assert await page.inner_text('button[data-tab="usage"]') == CATALOGS["vi"]["tab.usage"]
        assert CATALOGS["vi"]["state.ok"] in (await page.inner_text(card("ollama"))).lower()  # drawn again at once
        await page.reload()
        await page.wait_for_selector(card("ollama", "ok"), timeout=WAIT * 1000)
        assert await page.get_attribute("html", "lang") == "vi" and await page.input_value("#lang") == "vi"
        await page.select_option("#lang", "zh")
        await page.wait_for_selector('html[lang="zh-Hans"]', state="attached", timeout=WAIT * 1000)
        assert await page.evaluate("sessionStorage.getItem('proxyd-lang')") == "zh"
        assert problems == [], problems


async def test_catalogs_are_served_to_anyone_and_nothing_else_is(
    tmp_path: Path, upstream: FakeUpstream, upstream_factory: Any
) -> None:
    path = laptop(tmp_path, upstream, await upstream_factory())
    path.write_text(path.read_text() + "listen: {token: page-token-0001}\n")
    async with serving(path) as url, aiohttp.ClientSession() as session:
        for lang in CATALOGS:  # the page's words, before the token is typed (like its other files)
            async with session.get(f"{url}/ui/i18n/{lang}.json") as resp:
                assert resp.status == 200 and resp.content_type == "application/json"
                assert json.loads(await resp.read()) == CATALOGS[lang]
                assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
        for wrong in ("de", "..%2Fhandlers.py", "en.js", "EN"):
            async with session.get(f"{url}/ui/i18n/{wrong}.json") as resp:
                assert resp.status in (400, 404)  # proxyd refuses an encoded slash before the page sees it
        async with session.get(url + "/ui/api/state") as resp:
            assert resp.status == 401  # the data still asks for the token


TOKENS = {"ann": "ann-admin-token-0003", "vic": "vic-viewer-token-0003", "cal": "cal-client-token-0003"}


@pytest.mark.parametrize("lang", sorted(LOCALES))
async def test_tokens_changes_and_a_failed_reload_in_each_language(
    browser: Browser, tmp_path: Path, upstream: FakeUpstream, upstream_factory: Any, lang: str
) -> None:
    path = laptop(tmp_path, upstream, await upstream_factory())
    tokens = [{"name": "ann", "token": TOKENS["ann"], "role": "admin"},
              {"name": "vic", "token": TOKENS["vic"], "role": "viewer"}, {"name": "cal", "token": TOKENS["cal"]}]  # fmt: skip
    path.write_text(path.read_text() + yaml.safe_dump({"listen": {"tokens": tokens}}))
    async with serving(path) as url:
        page, problems = await open_page(browser, url, LOCALES[lang])
        await page.wait_for_selector("#token:not([hidden])", timeout=WAIT * 1000)
        assert await page.inner_text("#token h2") == CATALOGS[lang]["token.title"]
        await page.fill("#token-input", TOKENS["cal"])
        await page.press("#token-input", "Enter")
        await page.wait_for_selector("body.refused #notice:not([hidden])", timeout=WAIT * 1000)
        refused = await page.inner_text("#notice")
        assert ("role: viewer" in refused) if lang == "en" else refused == CATALOGS[lang]["error.role_not_allowed"]
        await look(page, lang, "token-refused")

        await page.fill("#token-input", TOKENS["vic"])
        await page.press("#token-input", "Enter")
        await page.wait_for_selector(card("ollama", "ok"), timeout=WAIT * 1000)
        assert await page.inner_text("#config-path") == CATALOGS[lang]["not_editable.viewer"]
        assert CATALOGS[lang]["card.key_hidden"] in await page.inner_text(card("ollama"))
        await look(page, lang, "viewer")

        await page.evaluate(f"sessionStorage.setItem('proxyd-token', '{TOKENS['ann']}')")
        await page.reload()
        await page.wait_for_selector(card("ollama") + ' button[data-action="test"]', timeout=WAIT * 1000)
        await page.click('button[data-tab="models"]')
        badge = '[data-models-of="ollama"] tr[data-model="llama3.2"] button[data-capability="vision"]'
        await page.click(badge)
        await page.wait_for_selector(badge + '[aria-pressed="true"]', timeout=WAIT * 1000)
        where = "ollama.models.llama3.2.capabilities.vision"
        assert await page.inner_text("#notice") == said(lang, "done.set", where=where, value="true", config=str(path))
        assert yaml.safe_load(path.read_text())["providers"][0]["models"] == [
            {"id": "llama3.2", "capabilities": {"vision": True}}
        ]

        good = path.read_text()
        path.write_text(good.replace("providers:", "providers", 1))
        await page.wait_for_selector("#reload-failed:not([hidden])", timeout=WAIT * 1000)
        head = CATALOGS[lang]["reload.failed"].split("{since}")
        banner = await page.inner_text("#reload-failed")
        assert banner.startswith(head[0]) and head[1].split("\n")[0] in banner and "proxyd.yaml:" in banner
        await page.click('button[data-tab="providers"]')
        await look(page, lang, "reload-failed")
        path.write_text(good)
        await page.wait_for_selector("#reload-failed[hidden]", state="attached", timeout=WAIT * 1000)
        # Chromium logs each refused call (the 401 before a token, the client's 403s) as a failed load
        assert all("status of 401" in p or "status of 403" in p for p in problems), problems

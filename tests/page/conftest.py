"""proxyd started from a config file, as ``proxyd serve`` starts it, with the page's helpers; and
the headless Chromium the browser tests drive."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, async_playwright

from proxyd.config.loader import load_config
from proxyd.server import ReloadFrom, Running, start


class PageClient:
    """Talks to proxyd as its page does: same origin, with the page's anti-CSRF value."""

    def __init__(self, session: aiohttp.ClientSession, running: Running, path: Path) -> None:
        self.session, self.running, self.path = session, running, path
        self.origin = f"http://127.0.0.1:{running.port}"
        self.csrf = ""

    async def open_page(self, **headers: str) -> str:
        async with self.session.get(self.origin + "/", headers=headers) as resp:
            html = await resp.text()
        found = re.search(r'name="proxyd-page" content="([^"]+)"', html)
        self.csrf = found.group(1) if found else ""
        return html

    async def state(self, **headers: str) -> dict[str, Any]:
        async with self.session.get(self.origin + "/ui/api/state", headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()  # type: ignore[no-any-return]

    async def send(self, method: str, action: str, body: Any = None, **headers: str) -> tuple[int, dict[str, Any]]:
        sent = {"Origin": self.origin, "X-Proxyd-Page": self.csrf, **headers}
        sent = {k: v for k, v in sent.items() if v}
        url = self.origin + "/ui/api/" + action
        async with self.session.request(method, url, json=body, headers=sent) as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def page_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[PageClient]]]:
    made: list[PageClient] = []

    async def make(yaml_text: str, env: dict[str, str] | None = None) -> PageClient:
        path = tmp_path / "proxyd.yaml"
        path.write_text(yaml_text)
        config = load_config(path, env or {})
        running = await start(config, str(path), ReloadFrom(path, watch=False))
        made.append(PageClient(aiohttp.ClientSession(), running, path))
        return made[-1]

    yield make
    for client in made:
        await client.session.close()
        await client.running.runner.cleanup()


CHROMIUM = shutil.which("chromium")
# As the machine's notes say: without the background-networking flags Chromium keeps dialling
# Google on a machine with no internet.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed, so the page cannot be driven (.ci/run installs it)")
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()

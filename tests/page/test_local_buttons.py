"""The page's Start and Stop of a local server: an admin's buttons, refused to a viewer, and the
server's state, load time and (for an admin only) its last output lines in the page's data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import yaml

from tests.local.conftest import alive, fake_provider
from tests.page.conftest import PageClient

Factory = Callable[..., Awaitable[PageClient]]


def _config(*providers: dict[str, object]) -> str:
    tokens = [{"name": "ops", "token": "t-admin-0123456789", "role": "admin"},
              {"name": "watch", "token": "t-viewer-0123456789", "role": "viewer"}]  # fmt: skip
    doc = {"listen": {"port": 0, "tokens": tokens}, "health": {"interval_s": 0}, "store": {"enabled": False},
           "ledger": {"enabled": False}, "providers": list(providers)}  # fmt: skip
    return yaml.safe_dump(doc)


ADMIN = {"Authorization": "Bearer t-admin-0123456789"}
VIEWER = {"Authorization": "Bearer t-viewer-0123456789"}


async def test_an_admin_starts_and_stops_a_local_server_from_the_page(page_factory: Factory) -> None:
    client = await page_factory(_config(fake_provider("gemma")))
    await client.open_page(**ADMIN)
    shown = (await client.state(**ADMIN))["providers"][0]["local"]
    assert shown["state"] == "stopped"
    status, done = await client.send("POST", "local", {"provider": "gemma", "action": "start"}, **ADMIN)
    assert status == 200, done
    assert done["local"]["state"] == "ready" and done["local"]["load_s"] > 0
    pid = done["local"]["pid"]
    assert alive(pid)
    status, refused = await client.send("POST", "local", {"provider": "gemma", "action": "stop"}, **VIEWER)
    assert status == 403 and refused["error"]["code"] == "role_not_allowed"
    viewer_sees = (await client.state(**VIEWER))["providers"][0]["local"]
    assert viewer_sees["state"] == "ready" and viewer_sees["pid"] is None  # no process ids nor output for a viewer
    status, done = await client.send("POST", "local", {"provider": "gemma", "action": "stop"}, **ADMIN)
    assert status == 200 and done["local"]["state"] == "stopped"
    assert not alive(pid)
    status, bad = await client.send("POST", "local", {"provider": "nope", "action": "start"}, **ADMIN)
    assert status == 404 and "no local server named 'nope'" in bad["error"]["message"]


async def test_a_crashed_servers_last_lines_are_on_the_admins_page_only(page_factory: Factory) -> None:
    client = await page_factory(_config(fake_provider("gemma", extra=("--crash-on-load",))))
    await client.open_page(**ADMIN)
    status, failed = await client.send("POST", "local", {"provider": "gemma", "action": "start"}, **ADMIN)
    assert status == 503 and "failed to load model" in failed["error"]["message"]
    card = (await client.state(**ADMIN))["providers"][0]
    assert card["state"] == "unreachable" and card["local"]["state"] == "crashed"
    assert "main: error: failed to load model" in card["local"]["last_lines"]
    assert (await client.state(**VIEWER))["providers"][0]["local"]["last_lines"] == []

"""Team mode as an attacker meets it (issue 29), against a real ``proxyd serve``: roles, the page
that reaches no secret it was not given, one model check for every body, and what a shared
status tells. Each test failed before its fix."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import FakeUpstream
from tests.helpers import WAIT, arun, eventually, start_serve

PREMIUM = "sk-PREMIUM-0123456789abcdef"
AWS = "aws-SECRET-0123456789abcdef"
TOKENS = {"ann": "ann-admin-token-00001", "vic": "vic-viewer-token-00001", "cal": "cal-client-token-00001",
          "lim": "lim-limited-token-0001"}  # fmt: skip
ENV = {"PREMIUM_KEY": PREMIUM, "AWS_SECRET_ACCESS_KEY": AWS}


def config_text(upstream: FakeUpstream, tmp: Path, extra: str = "") -> str:
    (tmp / "cal.token").write_text(TOKENS["cal"])
    return f"""health: {{interval_s: 0}}
default_provider: shared
listen:
  tokens:
    - {{name: ann, token: {TOKENS["ann"]}, role: admin}}
    - {{name: vic, token: {TOKENS["vic"]}, role: viewer}}
    - {{name: cal, token_file: {tmp / "cal.token"}}}
    - {{name: lim, token: {TOKENS["lim"]}, models: ["gpt-4.1*", "fast"]}}
{extra}providers:
  - name: shared
    base_url: {upstream.base_url}
    wire: chat
    api_key: ${{PREMIUM_KEY}}
    headers: {{Ocp-Apim-Subscription-Key: apim-SECRET-000111222, X-Title: proxyd}}
    default_model: gpt-4.1
    models: [{{id: gpt-4.1, alias: fast}}, {{id: o3-expensive}}]
"""


class Served:
    def __init__(self, url: str, path: Path, proc: Any, session: aiohttp.ClientSession) -> None:
        self.origin, self.path, self.proc, self.session = url.removesuffix("/v1"), path, proc, session
        self.csrf = ""
        self.log = b""

    def auth(self, who: str, **more: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[who]}", **more}

    async def open_page(self) -> None:
        async with self.session.get(self.origin + "/") as resp:
            found = re.search(r'name="proxyd-page" content="([^"]+)"', await resp.text())
        assert found is not None
        self.csrf = found.group(1)

    async def page(self, who: str, method: str, action: str, body: Any = None, **more: str) -> tuple[int, Any]:
        headers = self.auth(who, Origin=self.origin, **{"X-Proxyd-Page": self.csrf}, **more)
        async with self.session.request(method, f"{self.origin}/ui/api/{action}", json=body, headers=headers) as r:
            return r.status, await r.json()

    async def get(self, who: str, path: str) -> tuple[int, Any]:
        async with self.session.get(self.origin + path, headers=self.auth(who)) as resp:
            text = await resp.text()
            return resp.status, json.loads(text) if resp.content_type == "application/json" else text


@pytest.fixture
async def served(tmp_path: Path, upstream: FakeUpstream) -> AsyncIterator[Served]:
    path = tmp_path / "proxyd.yaml"
    path.write_text(config_text(upstream, tmp_path))
    proc, url = await start_serve(path, env=ENV)
    async with aiohttp.ClientSession() as session:
        running = Served(url, path, proc, session)
        yield running
    proc.send_signal(signal.SIGTERM)
    _, err = await proc.communicate()
    running.log = err
    for secret in (PREMIUM, AWS, *TOKENS.values(), "apim-SECRET"):
        assert secret.encode() not in err, f"{secret[:6]}... reached proxyd's log"


@pytest.fixture
async def attacker(upstream_factory: Any) -> FakeUpstream:
    """A server a client controls: it records whatever reaches it."""
    fake: FakeUpstream = await upstream_factory()
    return fake


def leaked(server: FakeUpstream) -> str:
    return json.dumps([{"path": s.path, "headers": s.headers, "body": s.body.decode(errors="replace")}
                       for s in server.seen])  # fmt: skip


# --- 1. roles -----------------------------------------------------------------------------------


async def test_a_client_token_cannot_use_the_page_api(served: Served, attacker: FakeUpstream) -> None:
    await served.open_page()
    before = served.path.read_text()
    attempts = [
        ("POST", "catalog", {"name": "x", "base_url": attacker.base_url, "key": {"kind": "env", "value": "PREMIUM_KEY"},
                             "headers": {"X-Leak": "${AWS_SECRET_ACCESS_KEY}"}}),
        ("POST", "set", {"provider": "shared", "key": "base_url", "value": attacker.base_url}),
        ("POST", "set", {"provider": "shared", "model": "o3-expensive", "key": "alias", "value": "gpt-4.1-cheap"}),
        ("POST", "providers", {"name": "mine", "base_url": attacker.base_url}),
        ("DELETE", "providers/shared", None),
        ("POST", "test", {"provider": "shared"}),
    ]  # fmt: skip
    for who in ("cal", "lim", "vic"):
        for method, action, body in attempts:
            status, answer = await served.page(who, method, action, body)
            assert status == 403 and answer["error"]["code"] == "role_not_allowed", (who, action, answer)
            assert "role: admin" in answer["error"]["message"]
    assert attacker.seen == [] and served.path.read_text() == before
    status, answer = await served.page("ann", "POST", "test", {"provider": "shared"})
    assert status == 200, answer  # the admin may


async def test_what_each_role_reads(served: Served) -> None:
    status, answer = await served.get("cal", "/ui/api/state")
    assert status == 403 and "role: viewer" in answer["error"]["message"]
    status, answer = await served.get("cal", "/metrics")
    assert status == 403 and answer["error"]["code"] == "role_not_allowed"
    _, scraped = await served.get("vic", "/metrics")
    assert "proxyd_requests_total" in scraped
    _, mine = await served.get("cal", "/status")
    text = json.dumps(mine)
    assert set(mine) == {"version", "ready", "config", "providers", "groups"}
    assert "vic" not in text and "cal.token" not in text and "PREMIUM_KEY" not in text and "/" not in mine["version"]
    assert mine["providers"][0]["name"] == "shared" and "key" not in mine["providers"][0]
    _, viewed = await served.get("vic", "/status")
    text = json.dumps(viewed)
    assert viewed["providers"][0]["key"] is None and viewed["config"]["source"] is None
    assert "cal.token" not in text and "PREMIUM_KEY" not in text and "token" not in viewed["access"]
    _, page = await served.get("vic", "/ui/api/state")
    assert page["editable"] is False and page["can_test"] is False and page["config"] is None
    assert page["providers"][0]["key"] is None and page["traffic"]["recent"] == []
    _, full = await served.get("ann", "/status")
    assert full["providers"][0]["key"] == "env PREMIUM_KEY" and str(served.path) in full["config"]["source"]


# --- the page reaches no secret it was not given --------------------------------------------------


async def test_the_page_takes_what_is_typed_literally(served: Served, attacker: FakeUpstream) -> None:
    await served.open_page()
    form = {"name": "x", "base_url": attacker.base_url, "headers": {"X-Leak": "${AWS_SECRET_ACCESS_KEY}"}}
    status, _ = await served.page("ann", "POST", "catalog", form)
    assert status == 200
    assert attacker.last.headers["X-Leak"] == "${AWS_SECRET_ACCESS_KEY}"  # as typed, never expanded
    for key in ({"kind": "env", "value": "AWS_SECRET_ACCESS_KEY"}, {"kind": "file", "value": str(served.path.parent / "cal.token")},
                {"kind": "file", "value": "keys/../cal.token"}):  # fmt: skip
        status, answer = await served.page("ann", "POST", "catalog", {**form, "key": key})
        assert status == 400 and answer["error"]["param"] == "key.value", answer
    status, answer = await served.page("ann", "POST", "catalog", {"name": "x", "base_url": "${PREMIUM_KEY}"})
    assert status == 400 and "${PREMIUM_KEY}" in answer["error"]["message"] and PREMIUM not in json.dumps(answer)
    assert AWS not in leaked(attacker) and TOKENS["cal"] not in leaked(attacker)
    # What a provider of the config already uses, or a file in keys/, may be named.
    (served.path.parent / "keys").mkdir()
    (served.path.parent / "keys" / "team").write_text("sk-team-key-in-keys-folder")
    for key in ({"kind": "env", "value": "PREMIUM_KEY"}, {"kind": "file", "value": "keys/team"}):
        status, answer = await served.page("ann", "POST", "catalog", {**form, "key": key})
        assert status == 200, answer
    # A base URL typed with ${...} is written so that it stays as typed.
    status, answer = await served.page("ann", "POST", "set", {"provider": "shared", "key": "base_url",
                                                              "value": attacker.base_url + "/${PREMIUM_KEY}"})  # fmt: skip
    assert status == 200, answer
    assert "$${PREMIUM_KEY}" in served.path.read_text()
    _, full = await served.get("ann", "/status")
    assert full["providers"][0]["base_url"].endswith("/${PREMIUM_KEY}")


async def test_a_second_add_with_a_pasted_key_writes_nothing(served: Served) -> None:
    await served.open_page()
    form = {"name": "paid", "base_url": "https://api.example.com/v1", "key": {"kind": "paste", "value": "sk-first-111"}}
    status, answer = await served.page("ann", "POST", "providers", form)
    assert status == 200, answer
    key_file = served.path.parent / "keys" / "paid"
    again = {**form, "key": {"kind": "paste", "value": "sk-second-222"}}
    status, answer = await served.page("ann", "POST", "providers", again)
    assert status == 409 and "exists already" in answer["error"]["message"]
    assert key_file.read_text().strip() == "sk-first-111"


async def test_a_loopback_host_through_a_proxy_is_not_the_own_page(tmp_path: Path, upstream: FakeUpstream) -> None:
    path = tmp_path / "proxyd.yaml"
    path.write_text(config_text(upstream, tmp_path, '  allowed_hosts: ["*"]\n'))
    proc, url = await start_serve(path, env=ENV)
    try:
        async with aiohttp.ClientSession() as session:
            served = Served(url, path, proc, session)
            await served.open_page()
            status, answer = await served.page("ann", "POST", "test", {"provider": "shared"},
                                               **{"X-Forwarded-For": "203.0.113.9"})  # fmt: skip
            assert status == 403 and answer["error"]["code"] == "origin_not_allowed"
            status, _ = await served.page("ann", "POST", "test", {"provider": "shared"}, Via="1.1 haproxy")
            assert status == 403
            status, _ = await served.page("ann", "POST", "test", {"provider": "shared"})
            assert status == 200  # straight from this machine's browser
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()


# --- 2. a secret is quoted as written -------------------------------------------------------------


async def test_config_errors_quote_values_as_written(tmp_path: Path, upstream: FakeUpstream) -> None:
    path = tmp_path / "proxyd.yaml"
    path.write_text(config_text(upstream, tmp_path).replace(upstream.base_url, "${PREMIUM_KEY}"))
    code, out, err = await arun("validate", "--config", str(path), env=ENV)
    assert code != 0 and "${PREMIUM_KEY}" in out + err and PREMIUM not in out + err
    path.write_text(config_text(upstream, tmp_path))
    proc, url = await start_serve(path, env=ENV)
    try:
        async with aiohttp.ClientSession() as session:
            served = Served(url, path, proc, session)
            broken = config_text(upstream, tmp_path).replace(upstream.base_url, "http://${PREMIUM_KEY}.example.com/v1")
            path.write_text(broken)  # plain http to a host outside this machine: refused, naming the host
            proc.send_signal(signal.SIGHUP)

            async def failed() -> Any:
                _, doc = await served.get("ann", "/status")
                last = doc["config"]["last_reload"]
                return last if last and last["result"] == "failure" else None

            last = await eventually(failed, "the reload of the broken file to fail")
            assert PREMIUM not in json.dumps(last) and "${PREMIUM_KEY}" in json.dumps(last)
            _, viewed = await served.get("vic", "/status")
            assert (
                viewed["config"]["last_reload"]["result"] == "failure"
                and "errors" not in viewed["config"]["last_reload"]
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err_bytes = await proc.communicate()
    assert PREMIUM.encode() not in err_bytes


# --- 3. one model check for every body ------------------------------------------------------------


async def test_a_limited_client_reaches_no_other_model_whatever_the_body(
    served: Served, upstream: FakeUpstream
) -> None:
    chat = json.dumps({"model": "o3-expensive", "messages": [{"role": "user", "content": "hi"}]}).encode()
    cases = [
        ("/v1/chat/completions", {"Content-Type": "text/plain"}, chat, 403),
        ("/v1/messages", {}, chat, 403),
        ("/providers/shared/v1/chat/completions", {"Content-Type": "text/plain"}, chat, 403),
        ("/providers/shared/v1/chat/completions", {"Content-Type": "application/json"}, chat, 403),
        ("/v1/chat/completions", {"Content-Type": "text/plain"}, b"model=o3-expensive", 400),
        ("/v1/audio/transcriptions", {"Content-Type": "multipart/form-data; boundary=x"},
         b'--x\r\nContent-Disposition: form-data; name="model"\r\n\r\no3-expensive\r\n--x--\r\n', 415),
    ]  # fmt: skip
    for path, headers, body, expected in cases:
        async with served.session.post(served.origin + path, data=body, headers=served.auth("lim", **headers)) as r:
            answer = await r.json()
            assert r.status == expected, (path, headers, answer)
            assert answer.get("error") or answer.get("type") == "error"
    assert upstream.seen == []
    allowed = json.dumps({"model": "fast", "messages": [{"role": "user", "content": "hi"}]}).encode()
    async with served.session.post(served.origin + "/v1/chat/completions", data=allowed,
                                   headers=served.auth("lim", **{"Content-Type": "text/plain"})) as r:  # fmt: skip
        assert r.status == 200 and upstream.last.json()["model"] == "gpt-4.1"


# --- 4. what crosses clients, and what blocks the loop -----------------------------------------------


async def test_the_test_curl_shows_no_configured_credential(served: Served) -> None:
    await served.open_page()
    status, verdict = await served.page("ann", "POST", "test", {"provider": "shared"})
    assert status == 200
    assert "apim-SECRET" not in verdict["curl"] and "$OCP_APIM_SUBSCRIPTION_KEY" in verdict["curl"]
    assert "X-Title: proxyd" in verdict["curl"]  # a harmless header is shown as it is
    _, page = await served.get("ann", "/ui/api/state")
    assert "apim-SECRET" not in json.dumps(page)


async def test_any_host_without_a_token_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "proxyd.yaml"
    path.write_text('listen: {allowed_hosts: ["*"]}\nproviders: [{name: a, base_url: "http://127.0.0.1:9/v1"}]\n')
    code, out, err = await arun("validate", "--config", str(path))
    assert code != 0 and "listen.allowed_hosts" in out + err and "listen.token" in out + err


# /healthz asked again and again by a process of its own (so that the test's event loop, where
# the client and the fake upstream handle the big bodies, adds nothing): each answer's time.
POLLER = """
import http.client, json, sys, time
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
took, until = [], time.monotonic() + float(sys.argv[2])
while time.monotonic() < until:
    started = time.monotonic()
    conn.request("GET", "/healthz")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200
    took.append(time.monotonic() - started)
print(json.dumps(took))
"""


async def healthz_times(origin: str, seconds: float) -> list[float]:
    port = str(urlsplit(origin).port)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", POLLER, port, str(seconds),
                                                stdout=asyncio.subprocess.PIPE)  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), WAIT + seconds)
    assert proc.returncode == 0
    return sorted(json.loads(out))


async def test_a_gzip_of_many_members_is_refused_at_once(served: Served) -> None:
    bomb = b"".join(gzip.compress(b"") for _ in range(120_000))  # 2.4 MB of empty members
    headers = served.auth("cal", **{"Content-Encoding": "gzip", "Content-Type": "application/json"})
    started = time.monotonic()
    async with served.session.post(served.origin + "/v1/chat/completions", data=bomb, headers=headers) as resp:
        answer = await resp.json()
    assert resp.status == 400 and "members" in answer["error"]["message"]
    assert time.monotonic() - started < 5  # it took 21 s, holding the loop, before


async def test_big_tool_schemas_leave_healthz_answering(served: Served, upstream: FakeUpstream) -> None:
    async def call_answer(request: web.Request) -> web.StreamResponse:
        call = {"id": "c1", "type": "function", "function": {"name": "t", "arguments": '{"p1": "x"}'}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        return web.json_response({"id": "x", "object": "chat.completion", "model": "gpt-4.1", "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls"}]})  # fmt: skip

    upstream.handler = call_answer

    def body(n: int, props: int) -> bytes:
        schema = {"type": "object", "properties": {f"v{n}p{i}": {"type": "integer"} for i in range(props)}}
        return json.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "go"}],
                           "tools": [{"type": "function", "function": {"name": "t", "parameters": schema}}]}).encode()  # fmt: skip

    async def ask(data: bytes) -> None:
        headers = served.auth("cal", **{"Content-Type": "application/json"})
        async with served.session.post(served.origin + "/v1/chat/completions", data=data, headers=headers) as resp:
            assert resp.status == 200

    # Two schemas compiled (8,000 properties: about 1.7 s each) and two over the size limit (20,000);
    # the bodies are made first, so that this process takes no core from proxyd while it is measured.
    bodies = [body(n, 8_000 if n % 2 else 20_000) for n in range(4)]
    load = asyncio.gather(*(ask(data) for data in bodies))
    took = await healthz_times(served.origin, 3.0)
    await load
    # Answered within 100 ms, and never held for long: it took 30 s before. One answer in twenty
    # may wait out a full garbage collection of proxyd (20-40 ms with these schemas alive) on
    # top of the 2-core machine's scheduling.
    p95, worst = took[int(len(took) * 0.95)], took[-1]
    assert p95 < 0.1 and worst < 0.25, f"/healthz took {p95 * 1000:.0f} ms (p95), {worst * 1000:.0f} ms at worst"

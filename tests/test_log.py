"""Logs: no configured key in the captured logs of a full run; formats; redaction of aiohttp's
own records and of exceptions."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import structlog
from aiohttp import web

from proxyd import log
from tests.conftest import FakeUpstream
from tests.helpers import arun
from tests.test_reload import Daemon, serve

KEY_ENV = "sk-env-key-aaaaaaaaaaaaaaaa"
KEY_FILE = "file-key-bbbbbbbbbbbbbbbb"
HEADER_SECRET = "header-secret-cccccccccccc"
KEY_RELOADED = "sk-reloaded-key-dddddddddddd"
KEY_CREDENTIAL = "credential-key-eeeeeeeeeeee"
TOKEN = "proxyd-token-ffffffffffff"
ALL_KEYS = (KEY_ENV, KEY_FILE, HEADER_SECRET, KEY_RELOADED, KEY_CREDENTIAL, TOKEN)


async def echo_credentials(request: web.Request) -> web.StreamResponse:
    """A careless upstream: it echoes the credentials it got, in bodies and headers."""
    auth = request.headers.get("Authorization", "")
    if request.path.endswith("/models"):
        return web.json_response({"data": [{"id": "m"}]})
    body = await request.json()
    if body.get("model") == "reject":
        return web.json_response({"error": {"message": f"invalid key {auth}"}}, status=401, headers={"X-Echo": auth})
    if body.get("stream"):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Echo": auth})
        await resp.prepare(request)
        await resp.write(b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}\n\n')
        return resp  # no [DONE]: proxyd adds it
    return web.json_response({"choices": [], "echo": auth}, headers={"X-Echo": auth})


def config_text(base_url: str, key_var: str = "${PROXYD_TEST_KEY}") -> str:
    return (
        "default_provider: env\nhealth: {interval_s: 0.2}\nlisten: {token_credential: token}\nproviders:\n"
        f"  - {{name: env, base_url: '{base_url}', api_key: '{key_var}', headers: {{X-Api-Key: {HEADER_SECRET}}}}}\n"
        f"  - {{name: file, base_url: '{base_url}', api_key_file: key.txt}}\n"
        "  - {name: dead, base_url: 'http://127.0.0.1:1/v1', api_key: '${PROXYD_TEST_KEY}'}\n"
        f"  - {{name: cred, base_url: '{base_url}', credential: upstream}}\n"
    )


async def test_no_key_in_the_logs_of_a_full_run(tmp_path: Path, upstream: FakeUpstream) -> None:
    upstream.handler = echo_credentials
    (tmp_path / "key.txt").write_text(KEY_FILE)
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "upstream").write_text(KEY_CREDENTIAL)
    (creds / "token").write_text(TOKEN)
    config = tmp_path / "config.yaml"
    config.write_text(config_text(upstream.base_url))
    env = {"PROXYD_TEST_KEY": KEY_ENV, "CREDENTIALS_DIRECTORY": str(creds)}
    d: Daemon = await serve(config, "--log-level", "debug", env=env)
    d.headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession() as s, s.get(d.url + "/models", headers={"x-api-key": "sk-wrong"}) as resp:
            assert resp.status == 401 and TOKEN not in await resp.text()
        async with aiohttp.ClientSession(headers=d.headers) as s:
            for model, stream in (
                ("m", False), ("file/m", False), ("cred/m", False), ("reject", False), ("dead/m", False), ("m", True)
            ):  # fmt: skip
                async with s.post(d.url + "/chat/completions", json={"model": model, "stream": stream}) as resp:
                    await resp.read()
            async with s.post(
                d.url + "/chat/completions", data=b"{broken", headers={"Content-Type": "application/json"}
            ):
                pass
            config.write_text(config_text(upstream.base_url, KEY_RELOADED))  # a literal key, reloaded
            await d.wait_for("reload", lambda: _generation_is(d, 2))
            async with s.post(d.url + "/chat/completions", json={"model": "reject"}) as resp:
                assert KEY_RELOADED not in await resp.text()
            status = json.dumps(await d.get("/status"))
    finally:
        logs = (await d.stop()).decode()
    events = [json.loads(line) for line in logs.splitlines()]
    names = {e["event"] for e in events}
    assert {"request", "provider_state", "config_reloaded", "stopped", "refused"} <= names
    assert sum(e["event"] == "request" for e in events) == 8
    for key in ALL_KEYS:
        assert key not in logs and key not in status
    for command in ("validate", "check", "models"):
        _, out, err = await arun(command, "--config", str(config), env=env)
        assert not any(k in out + err for k in ALL_KEYS), command


async def _generation_is(d: Daemon, n: int) -> bool:
    return bool(await d.generation() == n)


@pytest.fixture
def configured_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


def test_aiohttp_records_and_exceptions_are_redacted(
    capsys: pytest.CaptureFixture[str], configured_logging: None
) -> None:
    redactor = log.configure("info", "json").redactor
    redactor.add([KEY_ENV])
    try:
        raise RuntimeError(f"upstream said: Authorization: Bearer {KEY_ENV}")
    except RuntimeError:
        logging.getLogger("aiohttp.server").exception("Error handling request from %s", "127.0.0.1")
    structlog.get_logger().info("event", detail=f"key {KEY_ENV}", headers={"x-api-key": "anything-at-all"})
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines()]
    assert lines[0]["event"] == "Error handling request from 127.0.0.1" and lines[0]["logger"] == "aiohttp.server"
    assert "RuntimeError" in lines[0]["exception"]
    assert lines[1]["headers"] == {"x-api-key": "[redacted]"}
    assert KEY_ENV not in err and "anything-at-all" not in err


def test_console_format_is_readable(capsys: pytest.CaptureFixture[str], configured_logging: None) -> None:
    log.configure("info", "console")
    structlog.get_logger().info("listening", url="http://127.0.0.1:8787/v1")
    err = capsys.readouterr().err
    assert "listening" in err and "url=http://127.0.0.1:8787/v1" in err
    with pytest.raises(ValueError):
        json.loads(err)


def test_log_level_filters(capsys: pytest.CaptureFixture[str], configured_logging: None) -> None:
    log.configure("warning", "json")
    structlog.get_logger().info("quiet")
    structlog.get_logger().warning("loud")
    assert [json.loads(x)["event"] for x in capsys.readouterr().err.splitlines()] == ["loud"]


class CountingFile:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


async def test_lines_of_one_loop_turn_are_written_together() -> None:
    out = CountingFile()
    lines = log.Lines(out)  # type: ignore[arg-type]
    for i in range(3):
        lines.msg(f"line {i}")
    assert out.writes == []  # nothing yet: the turn is not over
    await asyncio.sleep(0)
    assert out.writes == ["line 0\nline 1\nline 2\n"]
    lines.msg("next")
    await asyncio.sleep(0)
    assert out.writes[1:] == ["next\n"]


def test_lines_outside_a_loop_are_written_at_once() -> None:
    out = CountingFile()
    lines = log.Lines(out)  # type: ignore[arg-type]
    lines.msg("one")
    assert out.writes == ["one\n"]


def test_lines_left_on_a_closed_loop_are_not_stuck() -> None:
    out = CountingFile()
    lines = log.Lines(out)  # type: ignore[arg-type]

    async def log_and_leave() -> None:
        lines.msg("first")

    loop = asyncio.new_event_loop()
    loop.run_until_complete(log_and_leave())
    loop.close()  # its flush never ran
    lines.msg("second")  # no loop: written now, with the line left behind
    assert "".join(out.writes) == "first\nsecond\n"


def test_a_closed_stderr_does_not_raise() -> None:
    closed = io.StringIO()
    closed.close()
    log.Lines(closed).msg("lost, quietly")


def test_the_direct_access_line_is_the_chains_line(
    capsys: pytest.CaptureFixture[str], configured_logging: None
) -> None:
    """The access line written straight as JSON says what structlog's chain would: same fields,
    same order, the level, the worker and an ISO timestamp, and the client's model redacted."""
    logs = log.configure("info", "json", worker="2")
    logs.redactor.add([KEY_ENV])
    assert logs.access_line is not None
    fields = {"request_id": "ab12", "model": f"m-{KEY_ENV}-sk-proj-abcdefgh123", "status": 200, "tokens": {"prompt": 3},
              "attempts": [{"target": "a/m", "outcome": "ok", "ms": 1.5}], "ttft_ms": None}  # fmt: skip
    structlog.get_logger("proxyd.access").info("request", **dict(fields))
    logs.access_line(dict(fields))
    chain, direct = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert list(chain) == list(direct) and chain.pop("timestamp")[:11] == direct.pop("timestamp")[:11]
    assert chain == direct and direct["worker"] == "2" and direct["level"] == "info"
    assert KEY_ENV not in direct["model"] and "abcdefgh123" not in direct["model"]


@pytest.mark.parametrize(("level", "fmt"), [("warning", "json"), ("info", "console")])
def test_no_direct_access_line_when_lines_are_filtered_or_for_people(
    level: str, fmt: str, configured_logging: None
) -> None:
    assert log.configure(level, fmt).access_line is None

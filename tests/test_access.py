"""The local-access rules, as plain tables (pure)."""

from __future__ import annotations

import hmac

import pytest

from proxyd import access
from proxyd.access import Policy, Refusal, exposure_problem, host_name, is_loopback, origin_problem
from proxyd.config.settings import Access, Client, ClientToken

TOKEN = "proxyd-token-0123456789"


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8787", "127.0.0.1"),
        ("LOCALHOST:8787", "localhost"),
        ("localhost.", "localhost"),
        ("[::1]:8787", "::1"),
        ("[::1]", "::1"),
        ("evil.example:8787", "evil.example"),
        (" proxyd.internal ", "proxyd.internal"),
        ("::1", "::1"),  # not valid in a Host header, but no port to strip either
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    ("allowed", "header", "served"),
    [
        ((), "127.0.0.1:8787", True),
        ((), "localhost:9000", True),  # a published container port differs from 8787: any port is fine
        ((), "[::1]:8787", True),
        ((), "localhost", True),
        ((), None, True),  # HTTP/1.0 without Host: not a browser
        ((), "rebind.attacker.example:8787", False),  # DNS rebinding: the page's own name
        ((), "127.0.0.1.nip.io:8787", False),
        ((), "0.0.0.0:8787", False),
        ((), "192.168.1.20:8787", False),
        (("proxyd.internal",), "PROXYD.internal:8787", True),
        (("proxyd.internal",), "other.internal", False),
        ((".corp.example",), "ai.corp.example", True),
        ((".corp.example",), "corp.example.evil", False),
        (("*",), "anything.example", True),
    ],
)
def test_host_rule(allowed: tuple[str, ...], header: str | None, served: bool) -> None:
    refusal = Policy(Access(allowed_hosts=allowed)).check_host(header)
    assert (refusal is None) is served
    if refusal is not None:
        assert (refusal.status, refusal.reason, refusal.code) == (403, "host", "host_not_allowed")
        assert "listen.allowed_hosts" in refusal.message


@pytest.mark.parametrize(
    ("hosts", "origin", "host", "served"),
    [
        ((), "http://127.0.0.1:8787", "127.0.0.1:8787", True),  # proxyd's own page
        ((), "http://localhost:8787", "LOCALHOST:8787", True),
        ((), "http://[::1]:8787", "[::1]:8787", True),
        ((), "http://127.0.0.1:8788", "127.0.0.1:8787", False),  # another port is another site
        ((), "http://evil.example", "127.0.0.1:8787", False),
        ((), "https://127.0.0.1:8787.evil.example", "127.0.0.1:8787", False),
        (("proxyd.lan",), "http://proxyd.lan:8787", "proxyd.lan:8787", True),
        # "*" lets any Host in, so a rebinding page's own name would pass as its own origin
        (("*",), "http://evil.example:8787", "evil.example:8787", False),
        (("*",), "http://127.0.0.1:8787", "127.0.0.1:8787", True),
    ],
)
def test_own_page_rule(hosts: tuple[str, ...], origin: str, host: str, served: bool) -> None:
    policy = Policy(Access(allowed_hosts=hosts))
    refusal = policy.check_host(host) or policy.check_browser(origin, "same-origin", host)
    assert (refusal is None) is served


@pytest.mark.parametrize(
    ("allowed", "origin", "fetch_site", "served"),
    [
        ((), None, None, True),  # editors, CLIs, SDKs
        ((), None, "none", True),  # the user typed the address
        ((), None, "same-origin", True),
        ((), "https://evil.example", None, False),
        ((), "https://evil.example", "cross-site", False),
        ((), "null", None, False),  # sandboxed iframes, file:// pages
        ((), "http://localhost:3000", "same-site", False),  # another local dev server's page
        ((), None, "cross-site", False),  # <img>/no-cors requests carry no Origin
        ((), None, "same-site", False),
        (("http://localhost:3000",), "http://localhost:3000", "same-site", True),
        (("http://localhost:3000/",), "HTTP://LOCALHOST:3000", None, True),
        (("http://localhost:3000",), "http://localhost:3001", None, False),
    ],
)
def test_browser_rule(allowed: tuple[str, ...], origin: str | None, fetch_site: str | None, served: bool) -> None:
    refusal = Policy(Access(allowed_origins=allowed)).check_browser(origin, fetch_site)
    assert (refusal is None) is served
    if refusal is not None:
        assert (refusal.status, refusal.reason) == (403, "origin")


@pytest.mark.parametrize(
    ("path", "headers", "served"),
    [
        ("/v1/chat/completions", {"Authorization": f"Bearer {TOKEN}"}, True),
        ("/v1/chat/completions", {"Authorization": f"bearer  {TOKEN} "}, True),
        ("/v1/chat/completions", {"x-api-key": TOKEN}, True),
        ("/v1/chat/completions", {"api-key": TOKEN}, True),
        ("/v1/chat/completions", {}, False),
        ("/v1/chat/completions", {"Authorization": "Bearer wrong"}, False),
        ("/v1/chat/completions", {"Authorization": f"Bearer {TOKEN}x"}, False),
        ("/v1/chat/completions", {"Authorization": f"Basic {TOKEN}"}, False),
        ("/v1/chat/completions", {"Authorization": "Bearer", "x-api-key": TOKEN}, False),
        ("/status", {}, False),
        ("/metrics", {}, False),
        ("/metrics", {"Authorization": f"Bearer {TOKEN}"}, True),
        ("/healthz", {}, True),  # health checks need no token
        ("/readyz", {}, True),
    ],
)
def test_token_rule(path: str, headers: dict[str, str], served: bool) -> None:
    policy = Policy(Access(token=TOKEN))
    assert policy.wants_token
    refusal = policy.check_token(path, headers)
    assert isinstance(refusal, Client) is served
    if isinstance(refusal, Refusal):
        assert (refusal.status, refusal.code) == (401, "invalid_api_key")
        assert TOKEN not in refusal.message


def test_without_a_token_any_client_key_passes() -> None:
    policy = Policy(Access())
    assert not policy.wants_token
    assert policy.check_token("/v1/chat/completions", {"Authorization": "Bearer whatever"}) == Client(role="admin")


def test_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every comparison goes through hmac.compare_digest, on fixed-length digests (no length leak)."""
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    policy = Policy(Access(token=TOKEN))
    for given in ("x", TOKEN[:-1], TOKEN, TOKEN * 10):
        policy.check_token("/v1/models", {"Authorization": f"Bearer {given}"})
    assert calls == [(32, 32)] * 4


@pytest.mark.parametrize(
    ("host", "token", "refused"),
    [
        ("127.0.0.1", None, False),
        ("127.0.0.53", None, False),
        ("::1", None, False),
        ("localhost", None, False),
        ("::ffff:127.0.0.1", None, False),
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("192.168.1.20", None, True),
        ("myhost.lan", None, True),
        ("0.0.0.0", TOKEN, False),
    ],
)
def test_exposure(host: str, token: str | None, refused: bool) -> None:
    problem = exposure_problem(host, Access(token=token))
    assert (problem is not None) is refused
    if problem:
        assert "listen.token" in problem


def test_is_loopback_rejects_names_it_cannot_know() -> None:
    assert is_loopback("LOCALHOST.")
    assert not is_loopback("localhost.attacker.example")


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("http://localhost:3000", True),
        ("https://app.example.com", True),
        ("vscode-webview://abc123", True),
        ("*", False),
        ("null", False),
        ("localhost:3000", False),
        ("https://app.example.com/page", False),
    ],
)
def test_allowed_origin_entries(origin: str, ok: bool) -> None:
    assert (origin_problem(origin) is None) is ok


def test_preflight_answer_names_the_origin_never_a_star() -> None:
    got = access.preflight_headers("http://localhost:3000", "authorization, content-type", True)
    assert got["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert got["Access-Control-Allow-Headers"] == "authorization, content-type"
    assert got["Access-Control-Allow-Private-Network"] == "true"
    assert "*" not in got.values()


ALICE, BOT = Client("alice"), Client("ci-bot", ("local/*",))
NAMED = Access(
    token=TOKEN,
    clients=(ClientToken(ALICE, "alice-token-123456"), ClientToken(BOT, "bot-token-1234567")),
)


@pytest.mark.parametrize(
    ("headers", "who"),
    [
        ({"Authorization": "Bearer alice-token-123456"}, ALICE),
        ({"x-api-key": "bot-token-1234567"}, BOT),
        ({"Authorization": f"Bearer {TOKEN}"}, Client(role="admin")),  # the single listen.token is "default"
        ({"Authorization": "Bearer someone-elses-token"}, None),
        ({}, None),
    ],
)
def test_named_tokens_say_who_sent_the_request(headers: dict[str, str], who: Client | None) -> None:
    got = Policy(NAMED).check_token("/v1/chat/completions", headers)
    if who is None:
        assert isinstance(got, Refusal) and got.status == 401
        assert "listen.tokens" in got.message and "alice-token" not in got.message
    else:
        assert got == who


def test_every_named_token_is_compared_whoever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: the first client's token takes as many comparisons as an unknown one."""
    calls: list[int] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(len(a))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    policy = Policy(NAMED)
    for given in (TOKEN, "bot-token-1234567", "nobody"):
        policy.check_token("/v1/models", {"Authorization": f"Bearer {given}"})
    assert calls == [32] * 9


def test_named_tokens_alone_allow_listening_beyond_loopback() -> None:
    assert exposure_problem("0.0.0.0", Access(clients=NAMED.clients)) is None
    assert Policy(Access(clients=NAMED.clients)).rules["ci-bot"].patterns == ("local/*",)

from __future__ import annotations

import pytest

from proxyd.config.settings import Provider
from proxyd.headers import downstream_response_headers, upstream_request_headers

KEYED = Provider(name="p", base_url="http://h/v1", api_key="sk-provider", headers=(("X-Tenant", "team-a"),))
KEYLESS = Provider(name="p", base_url="http://h/v1")


def names(headers: list[tuple[str, str]]) -> list[str]:
    return [k.lower() for k, _ in headers]


@pytest.mark.parametrize(
    "dropped",
    [
        "Connection",
        "Keep-Alive",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Proxy-Authorization",
        "Proxy-Connection",
        "Authorization",
        "api-key",
        "X-Api-Key",
        "Host",
        "Content-Length",
        "Content-Encoding",
        "Accept-Encoding",
        "Expect",
    ],
)
def test_request_drops_hop_by_hop_credentials_and_framing(dropped: str) -> None:
    out = upstream_request_headers([(dropped, "v")], KEYLESS)
    assert dropped.lower() not in names(out)


@pytest.mark.parametrize(
    "kept",
    ["x-stainless-lang", "session-id", "originator", "User-Agent", "Content-Type", "OpenAI-Beta", "thread-id"],
)
def test_request_passes_everything_else(kept: str) -> None:
    assert upstream_request_headers([(kept, "v")], KEYED)[0] == (kept, "v")


def test_connection_named_headers_are_dropped() -> None:
    out = upstream_request_headers(
        [("Connection", "close, X-Secret-Hop"), ("X-Secret-Hop", "1"), ("X-Keep", "1")], KEYLESS
    )
    assert names(out) == ["x-keep"]


def test_provider_key_replaces_client_credentials_and_config_headers_win() -> None:
    client = [("Authorization", "Bearer client-junk"), ("x-api-key", "junk"), ("x-tenant", "client"), ("A", "1")]
    out = upstream_request_headers(client, KEYED)
    assert out == [("A", "1"), ("Authorization", "Bearer sk-provider"), ("X-Tenant", "team-a")]


def test_keyless_provider_sends_no_authorization() -> None:
    out = upstream_request_headers([("Authorization", "Bearer client-key")], KEYLESS)
    assert "authorization" not in names(out)


def test_response_headers() -> None:
    upstream = [
        ("Content-Type", "application/json"),
        ("Content-Length", "10"),
        ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "1"),
        ("x-ratelimit-remaining-requests", "99"),
        ("openai-processing-ms", "12"),
    ]
    assert names(downstream_response_headers(upstream)) == [
        "content-type",
        "x-ratelimit-remaining-requests",
        "openai-processing-ms",
    ]

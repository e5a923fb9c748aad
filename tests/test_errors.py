from __future__ import annotations

import pytest

from proxyd.errors import ProxyError, reshape_upstream_error

OPENAI_SHAPED = b'{"error": {"message": "model not found", "type": "invalid_request_error", "code": null}}'


def reshape(status: int, body: bytes, base_url: str = "http://h:1/v1") -> ProxyError | None:
    return reshape_upstream_error(status, body, provider="p", base_url=base_url, path="/chat/completions")


def test_openai_shaped_errors_pass_unchanged() -> None:
    assert reshape(404, OPENAI_SHAPED) is None
    assert reshape(429, OPENAI_SHAPED) is None


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, b'{"detail": "CUDA out of memory"}', "provider 'p' answered 500: CUDA out of memory"),
        (400, b'{"message": "bad field"}', "provider 'p' answered 400: bad field"),
        (503, b"<html><body>Bad Gateway</body></html>", "provider 'p' answered 503: an HTML page"),
        (502, b"upstream   connect\nerror", "provider 'p' answered 502: upstream connect error"),
        (500, b"", "provider 'p' answered 500: no details given"),
        (404, b'{"error": "model \\"x\\" not found, try pulling it first"}', "provider 'p': model \"x\" not found"),
    ],
)
def test_other_errors_are_reshaped_keeping_the_status(status: int, body: bytes, message: str) -> None:
    err = reshape(status, body)
    assert err is not None and err.status == status and err.message.startswith(message)
    assert set(err.body()["error"]) == {"message", "type", "code", "param"}


@pytest.mark.parametrize(
    ("base_url", "hint"),
    [
        ("http://127.0.0.1:11434", "base_url probably lacks /v1 (try http://127.0.0.1:11434/v1)"),
        ("http://127.0.0.1:11434/v1", "check the provider's base_url"),
    ],
)
@pytest.mark.parametrize("body", [b"404 page not found", b'{"detail": "Not Found"}', b""])
def test_bare_404_hints_at_the_base_url(base_url: str, hint: str, body: bytes) -> None:
    err = reshape(404, body, base_url)
    assert err is not None and err.status == 404 and hint in err.message
    assert f"{base_url}/chat/completions" in err.message


@pytest.mark.parametrize(
    ("reason", "label", "health", "status", "fails_over", "same_target"),
    [
        ("connect", "connect", "unreachable", 502, True, True),
        ("tls", "tls", "unreachable", 502, True, False),
        ("timeout", "timeout", "degraded", 504, True, False),
        ("protocol", "protocol", "degraded", 502, False, False),
        ("status_503", "status_5xx", "degraded", 503, True, True),
        ("status_429", "status_4xx", None, 429, True, True),
        ("status_500", "status_5xx", "degraded", 500, True, False),
        ("status_404", "status_4xx", None, 404, False, False),
    ],
)
def test_one_failure_vocabulary(
    reason: str, label: str, health: str | None, status: int, fails_over: bool, same_target: bool
) -> None:
    """What each part of proxyd makes of a failure comes from one row: the metric's label, the
    provider's health, a model group's last answer and whether it moves on or retries."""
    from proxyd.errors import failure_of

    row = failure_of(reason)
    assert (row.label, row.health, row.status, row.fails_over, row.same_target) == (
        label,
        health,
        status,
        fails_over,
        same_target,
    )

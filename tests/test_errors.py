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

"""The page's anti-CSRF value: signed per page, checked in constant time, shared by workers."""

from __future__ import annotations

import pytest

from proxyd.page.csrf import SECRET_ENV, secret_from, sign, valid

SECRET = b"s" * 32


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (sign(SECRET, "abc123"), True),
        (" " + sign(SECRET, "abc123") + " ", True),
        (sign(b"t" * 32, "abc123"), False),  # another proxyd's page
        (sign(SECRET, "abc123")[:-1] + "0", False),
        ("abc123." + "0" * 64, False),
        ("abc123", False),
        ("." + sign(SECRET, "")[1:], False),  # no nonce
        ("", False),
        (None, False),
    ],
)
def test_valid(value: str | None, ok: bool) -> None:
    assert valid(SECRET, value) is ok


def test_each_page_gets_its_own_value_and_all_are_good() -> None:
    first, second = sign(SECRET, "n1"), sign(SECRET, "n2")
    assert first != second and valid(SECRET, first) and valid(SECRET, second)


@pytest.mark.parametrize(
    ("env", "shared"),
    [
        ({SECRET_ENV: "ab" * 32}, True),
        ({SECRET_ENV: "not hex"}, False),
        ({SECRET_ENV: "ab" * 4}, False),  # too short to be a secret
        ({}, False),
    ],
)
def test_workers_share_the_supervisors_secret(env: dict[str, str], shared: bool) -> None:
    fresh = b"f" * 32
    assert secret_from(env, fresh) == (bytes.fromhex(env[SECRET_ENV]) if shared else fresh)

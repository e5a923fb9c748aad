"""Request bodies decoded by proxyd: every encoding it can decode, its limits and its failures."""

from __future__ import annotations

import gzip
import zlib

import pytest

from proxyd.app import available_codecs
from proxyd.decode import decode
from proxyd.errors import ProxyError

PAYLOAD = b'{"model": "m", "input": "' + "é".encode() * 2000 + b'"}'
KNOWN = available_codecs()


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def zstd_frames(*parts: bytes) -> bytes:
    from backports import zstd

    return b"".join(zstd.compress(p) for p in parts)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("identity", PAYLOAD),
        ("gzip", gzip.compress(PAYLOAD)),
        ("gzip", gzip.compress(PAYLOAD[:100]) + gzip.compress(PAYLOAD[100:])),  # two members
        ("gzip", gzip.compress(PAYLOAD) + b"\0\0\0\0"),  # zero padding after the last member
        ("deflate", zlib.compress(PAYLOAD)),  # zlib-wrapped, as HTTP says
        ("deflate", raw_deflate(PAYLOAD)),  # raw, as many clients send it
        ("zstd", zstd_frames(PAYLOAD)),
        ("zstd", zstd_frames(PAYLOAD[:7], PAYLOAD[7:])),  # two frames
    ],
)
def test_decodes(encoding: str, body: bytes) -> None:
    assert decode(body, encoding, len(PAYLOAD), KNOWN) == PAYLOAD


@pytest.mark.parametrize(
    ("encoding", "body", "status", "fragment"),
    [
        ("gzip", b"not gzip at all", 400, "not valid gzip"),
        ("gzip", gzip.compress(PAYLOAD)[:-20], 400, "ends before its last block"),
        ("deflate", b"\x00\x01garbage", 400, "not valid deflate"),
        ("zstd", b"hello", 400, "not valid zstd"),
        ("zstd", zstd_frames(PAYLOAD)[:-5], 400, "not valid zstd"),
        ("gzip", gzip.compress(PAYLOAD + b" "), 413, "limit"),  # one byte past the limit, decoded
        ("zstd", zstd_frames(PAYLOAD, b" "), 413, "limit"),
    ],
)
def test_refuses(encoding: str, body: bytes, status: int, fragment: str) -> None:
    with pytest.raises(ProxyError) as caught:
        decode(body, encoding, len(PAYLOAD), KNOWN)
    assert caught.value.status == status and fragment in caught.value.message


def test_a_bomb_stops_at_the_limit_without_inflating_it_all() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB that packs into ~64 KB
    with pytest.raises(ProxyError) as caught:
        decode(bomb, "gzip", 1 << 20, KNOWN)
    assert caught.value.status == 413


def test_known_encodings() -> None:
    assert {"gzip", "deflate", "zstd"} <= set(KNOWN)

"""Request bodies sent with a ``Content-Encoding``, decoded by proxyd itself (pure).

aiohttp's own decoding answers a body it cannot decode (or an encoding it lacks) in
``text/plain`` before proxyd sees the request, so the server runs with it off and the body is
decoded here: the size limit applies to the decoded bytes (a small gzip bomb is a 413, not a
gigabyte in memory), several gzip members or zstd frames are read in turn, and every failure is
an error in the API's shape.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol

from proxyd.errors import ProxyError, bad_request

_GZIP = 16 + zlib.MAX_WBITS
_BROTLI_STEP = 4096  # input fed to brotli at a time, so its output is checked against the limit as it grows


class _Stream(Protocol):
    """What zlib's and zstd's decompressor objects share."""

    eof: bool
    unused_data: bytes

    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


def codecs(zstd: ModuleType | None, brotli: ModuleType | None) -> dict[str, Callable[[bytes, int], bytes]]:
    """The decoders by encoding name: gzip and deflate always, zstd and br when their module is given."""
    found: dict[str, Callable[[bytes, int], bytes]] = {"gzip": _gzip, "deflate": _deflate}
    if zstd is not None:
        found["zstd"] = lambda body, limit: _frames(body, limit, zstd.ZstdDecompressor, "zstd")
    if brotli is not None:
        found["br"] = lambda body, limit: _brotli(body, limit, brotli)
    return found


def decode(body: bytes, encoding: str, limit: int, known: dict[str, Callable[[bytes, int], bytes]]) -> bytes:
    """``body`` decoded from ``encoding`` (one of ``known``), at most ``limit`` bytes of it."""
    if encoding in ("", "identity"):
        return body
    return known[encoding](body, limit)


def too_large(limit: int) -> ProxyError:
    return ProxyError(
        413,
        f"the request body is larger than proxyd's limit of {limit / 1024 / 1024:g} MiB (raise listen.max_body_mb)",
        code="request_too_large",
    )


def _broken(encoding: str, why: str) -> ProxyError:
    return bad_request(f"the request body is not valid {encoding} ({why}); send it as Content-Encoding says, or plain")


def _gzip(body: bytes, limit: int) -> bytes:
    return _frames(body, limit, lambda: zlib.decompressobj(_GZIP), "gzip")


def _deflate(body: bytes, limit: int) -> bytes:
    # HTTP's "deflate" is zlib-wrapped, but many clients send raw deflate: both are taken.
    wrapped = body[:1] and (body[0] & 0x0F) == 8 and int.from_bytes(body[:2], "big") % 31 == 0
    wbits = zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS
    return _frames(body, limit, lambda: zlib.decompressobj(wbits), "deflate")


def _frames(body: bytes, limit: int, make: Callable[[], Any], encoding: str) -> bytes:
    """Decode member after member (gzip) or frame after frame (zstd), stopping past ``limit``."""
    out: list[bytes] = []
    size = 0
    rest = body
    while rest:
        stream: _Stream = make()
        try:
            piece = stream.decompress(rest, limit + 1 - size)
        except Exception as exc:  # zlib.error, ZstdError: the codec's own words for a bad body
            raise _broken(encoding, str(exc)[:120]) from None
        size += len(piece)
        if size > limit:
            raise too_large(limit)
        out.append(piece)
        if not stream.eof:
            raise _broken(encoding, "it ends before its last block")
        rest = stream.unused_data
        if encoding == "gzip" and not rest.strip(b"\0"):
            break  # trailing zero padding after the last member, as some writers leave
    return b"".join(out)


def _brotli(body: bytes, limit: int, brotli: ModuleType) -> bytes:
    stream = brotli.Decompressor()
    out: list[bytes] = []
    size = 0
    try:
        for at in range(0, len(body), _BROTLI_STEP):
            piece = stream.process(body[at : at + _BROTLI_STEP])
            size += len(piece)
            if size > limit:
                raise too_large(limit)
            out.append(piece)
        finished = stream.is_finished()
    except brotli.error as exc:
        raise _broken("br", str(exc)[:120]) from None
    if not finished:
        raise _broken("br", "it ends before its last block")
    return b"".join(out)

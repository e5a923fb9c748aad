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
_STEP = 64 * 1024  # input fed to zlib and zstd at a time (see _frames)
MAX_MEMBERS = 1024  # gzip members or zstd frames in one body: real writers make one, or a few


class _Stream(Protocol):
    """What zlib's and zstd's decompressor objects share."""

    eof: bool
    unused_data: bytes

    def decompress(self, data: bytes | memoryview, max_length: int = ...) -> bytes: ...


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
    """Decode member after member (gzip) or frame after frame (zstd), stopping past ``limit``.

    The input is fed in slices of :data:`_STEP`: a codec copies what follows a member's end
    (``unused_data``), and with the whole rest of the body fed at once, many small members
    would cost the square of the body's size.
    """
    view = memoryview(body)
    out: list[bytes] = []
    size = pos = members = 0
    pending = b""  # input read past the end of the last member
    while pending or pos < len(body):
        if encoding == "gzip" and _padding(pending, view[pos:]):
            break  # trailing zero padding after the last member, as some writers leave
        members += 1
        if members > MAX_MEMBERS:
            raise _broken(encoding, f"more than {MAX_MEMBERS} {'members' if encoding == 'gzip' else 'frames'}")
        stream: _Stream = make()
        data: bytes | memoryview = pending
        if not data:
            data, pos = view[pos : pos + _STEP], pos + _STEP
        while True:
            try:
                piece = stream.decompress(data, limit + 1 - size)
            except Exception as exc:  # zlib.error, ZstdError: the codec's own words for a bad body
                raise _broken(encoding, str(exc)[:120]) from None
            size += len(piece)
            if size > limit:
                raise too_large(limit)
            out.append(piece)
            if stream.eof:
                pending = stream.unused_data
                break
            data = getattr(stream, "unconsumed_tail", b"")
            if not data and getattr(stream, "needs_input", True):
                if pos >= len(body):
                    raise _broken(encoding, "it ends before its last block")
                data, pos = view[pos : pos + _STEP], pos + _STEP
    return b"".join(out)


def _padding(pending: bytes, rest: memoryview) -> bool:
    """Whether what is left is zeros only; the rest is read whole only when it starts with one
    (a member starts with 0x1f), so at most once."""
    if pending.strip(b"\0"):
        return False
    return not rest or (rest[0] == 0 and not rest.tobytes().strip(b"\0"))


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

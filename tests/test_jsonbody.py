from __future__ import annotations

import json

import pytest

from proxyd import jsonbody
from proxyd.errors import ProxyError


@pytest.mark.parametrize(
    "body",
    [
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}',
        '{"t": "caf\u00e9 \u2028 \U0001f600"}'.encode(),
        b'{"x": "\\ud800"}',  # a lone surrogate escape is valid JSON and must survive
        b'{"n": 1e308, "i": -12345678901234567890}',
        b'{"a":' * 150 + b"1" + b"}" * 150,  # deep but under the limit
    ],
)
def test_round_trip(body: bytes) -> None:
    parsed = jsonbody.parse_object(body)
    assert json.loads(jsonbody.dump(parsed)) == json.loads(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b'{"a": Infinity}', "Infinity is not valid JSON"),
        (b'{"a": -Infinity}', "not valid JSON"),
        (b'{"a": 1e309}', "too large"),
        (b'{"a": ' + b"9" * 5000 + b"}", "too many digits"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"\xff\xfe{}", "not"),
        (b'{"a":' + b"[" * 300 + b"]" * 300 + b"}", "nests deeper than 200"),
        (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests deeper"),
    ],
)
def test_unsafe_json_is_a_400(body: bytes, reason: str) -> None:
    with pytest.raises(ProxyError) as info:
        jsonbody.parse_object(body)
    assert info.value.status == 400 and reason in info.value.message


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ({"a": "naïve 🙂", "b": [1, 2.5, None, True]}, '{"a":"naïve 🙂","b":[1,2.5,null,true]}'),
        ({"a": "\ud800 lone"}, '{"a":"\\ud800 lone"}'),  # orjson cannot write it: json escapes it
        ({"seed": 2**70}, f'{{"seed":{2**70}}}'),  # past 64 bits: json writes it exactly
    ],
)
def test_dump_writes_compact_json_and_loses_nothing(value: dict[str, object], sent: str) -> None:
    assert jsonbody.dump(value) == sent.encode("utf-8", "surrogatepass")
    assert json.loads(jsonbody.dump(value)) == value


@pytest.mark.parametrize(
    "body",
    [
        b'{"seed": 123456789012345678901234567890, "n": -9999999999999999999}',  # orjson would make floats
        b'{"a": "\\ud83d alone", "b": 1}',  # a lone surrogate: orjson refuses, json keeps it
        b'\xef\xbb\xbf{"a": 1}',  # a byte order mark
        '{"a": "utf-16"}'.encode("utf-16"),
        b'{"a": 1, "a": 2, "t": 0.1, "u": 1e308, "v": -0.0}',
        # Past the size and bracket counts where the value is walked instead of the bytes searched:
        b'{"tools": [' + b",".join([b'{"x": [1, 2.5]}'] * 300) + b'], "seed": 18446744073709551616}',
        b'{"text": "' + b"x" * 20_000 + b'", "max": -9223372036854775809, "ok": 18446744073709551615}',
        b'{"tools": [' + b",".join([b'{"x": [1e19, 0.5]}'] * 300) + b"]}",  # a real float that large
    ],
)
def test_parse_reads_every_body_as_the_standard_library_does(body: bytes) -> None:
    parsed = jsonbody.parse_object(body)
    assert parsed == json.loads(body) and repr(parsed) == repr(json.loads(body))


@pytest.mark.parametrize(("depth", "refused"), [(199, False), (200, False), (201, True), (202, True)])
def test_the_depth_limit_is_exact_at_its_edge(depth: int, refused: bool) -> None:
    """Objects and lists mixed, beside a wide sibling (the level walk must see both branches)."""
    pairs, extra = divmod(depth - 1, 2)  # the body's own object is level 1; each {"a":[ adds two
    deep = b'{"a":[' * pairs + (b'{"b":1}' if extra else b"1") + b"]}" * pairs
    body = b'{"wide": [' + b",".join([b'{"x": [1, 2, {"y": 3}]}'] * 300) + b'], "deep": ' + deep + b"}"
    if refused:
        with pytest.raises(ProxyError, match="nests deeper than 200"):
            jsonbody.parse_object(body)
    else:
        assert jsonbody.parse_object(body)["wide"][0] == {"x": [1, 2, {"y": 3}]}

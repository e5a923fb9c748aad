"""jsoncodec: orjson's speed, the standard library's values."""

from __future__ import annotations

import json

import pytest

from proxyd import jsoncodec

# What providers send in stream chunks and answers, and what orjson would read otherwise.
TEXTS = [
    '{"choices": [{"index": 0, "delta": {"content": "naïve 🙂 \\u2028"}, "finish_reason": null}]}',
    '{"usage": {"prompt_tokens": 12, "completion_tokens": 3}, "created": 1732924800}',
    '{"id": 18446744073709551615, "n": -9223372036854775808}',  # the 64-bit edges: orjson's own
    '{"id": 123456789012345678901234567890}',  # past 64 bits: orjson would read a float
    '{"n": -9999999999999999999}',  # 19 digits, below int64: the same
    '{"x": NaN, "y": Infinity}',  # not JSON, but json reads it, and so proxyd always did
    '{"t": "\\ud83d alone"}',  # a lone surrogate: orjson refuses it
    '{"a": 1, "a": 2}',
    "[1e308, -0.0, 0.1, 5e-324]",
    '"just a string"',
    "\ufeff{}",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("as_bytes", [False, True])
def test_loads_reads_as_json_does(text: str, as_bytes: bool) -> None:
    data = text.encode("utf-8", "surrogatepass") if as_bytes else text
    if text.startswith("\ufeff") and not as_bytes:
        with pytest.raises(ValueError):  # json refuses a BOM in a str, and so does loads
            jsoncodec.loads(data)
        return
    assert repr(jsoncodec.loads(data)) == repr(json.loads(data))


@pytest.mark.parametrize("text", ['{"a": ', "[DONE]", "", '{"a": 1} x', "{'a': 1}", "1e309x"])
def test_loads_refuses_what_json_refuses_with_its_message(text: str) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(text)
    with pytest.raises(ValueError) as got:
        jsoncodec.loads(text)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize(
    "value",
    [
        {"type": "response.output_text.delta", "delta": 'say "hi"\n\\ \u2028 🙂', "logprobs": []},
        {"big": 2**70, "neg": -(2**65)},  # orjson cannot write these: json does
        {"lone": "\ud800"},
        {1: "a key that is not a string"},
        [None, True, 1.5, "x"],
    ],
)
def test_dumps_writes_the_same_value_in_one_line(value: object) -> None:
    written = jsoncodec.dumps(value)
    assert b"\n" not in written and b"\r" not in written
    assert json.loads(written) == json.loads(json.dumps(value))

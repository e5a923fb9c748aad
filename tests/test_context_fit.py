"""Fitting requests to small contexts, and each server's words for a request that does not fit (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxyd.context_fit import Overflow, clamp, estimate_tokens, overflow, prompt_text, too_long


@pytest.mark.parametrize(
    ("body", "window", "size", "sent", "noted"),
    [
        ({"max_tokens": 32000}, 8192, 3000, {"max_tokens": 8192 - 1000 - 64}, "max_tokens 32000 lowered to 7128"),
        ({"max_completion_tokens": 9000}, 8192, 300, {"max_completion_tokens": 8192 - 164}, "max_completion_tokens"),
        ({"max_output_tokens": 9000}, 8192, 300, {"max_output_tokens": 8028}, "the model's context is 8192 tokens"),
        ({"max_tokens": 1000}, 8192, 3000, None, None),  # fits beside the prompt: untouched
        ({"max_tokens": 32000}, 8192, 30000, None, None),  # the prompt may not fit at all: the server says
        ({"max_tokens": 32000}, 8192, 24400, None, None),  # 8 tokens would be left: leave it to the server
        ({"stream": True}, 8192, 3000, None, None),  # no limit asked: the server fills the context
        ({"max_tokens": "32000"}, 8192, 3000, None, None),  # not a number: the server's to refuse
    ],
)
def test_clamp(body: dict[str, Any], window: int, size: int, sent: dict[str, Any] | None, noted: str | None) -> None:
    out, note = clamp(body, window, size)
    assert out == sent
    assert (note is None) == (noted is None) and (noted is None or noted in note)  # type: ignore[operator]


def test_the_estimate_errs_high() -> None:
    english = ("The quick brown fox jumps over the lazy dog. " * 100).encode()
    assert estimate_tokens(len(english)) > len(english) / 4  # about 4 bytes a token in English


LLAMA_CPP = {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
                       "type": "exceed_context_size_error", "n_prompt_tokens": 9216, "n_ctx": 8192}}  # fmt: skip
LLAMA_CPP_OLD = {"error": {"code": 500, "message": "the request exceeds the available context size. try increasing the "
                           "context size or enable context shift", "type": "server_error"}}  # fmt: skip
LLAMA_CPP_PYTHON = {"error": {"message": "This model's maximum context length is 2048 tokens. However, you requested 3110 "
                              "tokens (3010 in the messages, 100 in the completion). Please reduce the length of the "
                              "messages or completion.", "type": "invalid_request_error", "param": "messages",
                              "code": "context_length_exceeded"}}  # fmt: skip
VLLM_OUTPUT = {"object": "error", "message": "This model's maximum context length is 8192 tokens. However, you requested "
               "33000 tokens (1000 in the messages, 32000 in the completion). Please reduce the length of the messages "
               "or completion.", "type": "BadRequestError", "param": None, "code": 400}  # fmt: skip
VLLM_NEW = {"error": {"message": "'max_tokens' or 'max_completion_tokens' is too large: 32000. This model's maximum "
                      "context length is 8192 tokens and your request has 1200 input tokens (32000 > 8192 - 1200).",
                      "type": "BadRequestError", "param": None, "code": 400}}  # fmt: skip
OPENAI = {"error": {"message": "This model's maximum context length is 128000 tokens. However, your messages resulted "
                    "in 130512 tokens. Please reduce the length of the messages.", "type": "invalid_request_error",
                    "param": "messages", "code": "context_length_exceeded"}}  # fmt: skip
ANTHROPIC = {"type": "error", "error": {"type": "invalid_request_error",
                                        "message": "prompt is too long: 208310 tokens > 200000 maximum"}}  # fmt: skip
LM_STUDIO = {"error": "Trying to keep the first 4532 tokens when context the overflows. However, the model is loaded "
             "with context length of only 4096 tokens, which is not enough. Try to load the model with a larger "
             "context length, or provide a shorter input"}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "found"),
    [
        (400, LLAMA_CPP, Overflow(9216, 8192)),
        (500, LLAMA_CPP_OLD, Overflow(None, None)),
        (400, LLAMA_CPP_PYTHON, Overflow(3010, 2048)),
        (400, VLLM_OUTPUT, Overflow(1000, 8192)),
        (400, VLLM_NEW, Overflow(1200, 8192)),
        (400, OPENAI, Overflow(130512, 128000)),
        (400, ANTHROPIC, Overflow(208310, 200000)),
        (400, LM_STUDIO, Overflow(4532, 4096)),
        (400, {"error": {"message": "Invalid 'messages': empty", "type": "invalid_request_error"}}, None),
        (404, OPENAI, None),  # not an answer about the request's size
        (500, {"error": {"message": "CUDA out of memory"}}, None),
    ],
)
def test_each_servers_words_for_a_request_that_does_not_fit(status: int, body: Any, found: Overflow | None) -> None:
    assert overflow(status, json.dumps(body).encode()) == found


def test_a_prompt_past_the_context_is_said_in_the_words_claude_code_compacts_on() -> None:
    error = too_long(Overflow(9216, 8192), None, "qwen", "llama")
    assert error.status == 400 and error.code == "context_length_exceeded"
    assert error.message.startswith("prompt is too long: 9216 tokens > 8192 maximum. ")
    assert "'qwen' of provider 'llama' has a 8192-token context" in error.message
    unknown = too_long(Overflow(None, None), 4096, "qwen", "llama")
    assert unknown.message.startswith("prompt is too long: more tokens than fit > 4096 maximum")


def test_an_output_limit_past_the_context_is_not_called_a_long_prompt() -> None:
    error = too_long(Overflow(1000, 8192), None, "qwen", "vllm")
    assert "prompt is too long" not in error.message and error.param == "max_tokens"
    assert "the prompt takes 1000 of the 8192 tokens" in error.message and "context_window" in error.message


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"system": "Be brief.", "messages": [{"role": "user", "content": "hi"}]}, "Be brief.\nhi"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "look", "cache_control": {"type": "x"}},
                                                   {"type": "image", "source": {"data": "A" * 9000}}]}]}, "look"),
        ({"input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hey"}]},
                    {"type": "function_call_output", "call_id": "c1", "output": "done"}]}, "hey\ndone"),
        ({"messages": [{"role": "user", "content": "q"}], "tools": [{"type": "function", "function": {"name": "ls"}}],
          "model": "m", "max_tokens": 10}, "q\nls"),
        ({"messages": [{"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "s" * 99}]}]},
         "hmm"),
    ],
)  # fmt: skip
def test_prompt_text_is_what_a_template_renders(body: dict[str, Any], text: str) -> None:
    assert prompt_text(body) == text

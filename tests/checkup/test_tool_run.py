"""``proxyd check --tools`` as a real process against servers that call tools well, in text,
badly, not at all, or refuse them as Ollama, llama.cpp and vLLM do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.checkup.test_tool_probe import LLAMA_CPP, OLLAMA, VLLM
from tests.conftest import FakeUpstream
from tests.helpers import arun, write

KEY = "sk-tools-secret-key-123456789"


def answer(message: dict[str, Any]) -> web.Response:
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return web.json_response({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                              "choices": [{"index": 0, "message": {"role": "assistant", **message},
                                           "finish_reason": finish}]})  # fmt: skip


def call(arguments: str) -> dict[str, Any]:
    return {"content": None, "tool_calls": [{"id": "call_1", "type": "function",
                                             "function": {"name": "get_weather", "arguments": arguments}}]}  # fmt: skip


async def models(request: web.Request) -> web.StreamResponse:
    """Each model id is one way a server behaves when offered a tool."""
    if not request.path.endswith("/chat/completions"):
        return web.json_response({"detail": "Not Found"}, status=404)
    body = await request.json()
    assert body["tools"][0]["function"]["name"] == "get_weather" and body["tool_choice"] == "auto"
    behaviours = {
        "well": lambda: answer(call('{"city": "Paris"}')),
        "hermes": lambda: answer(
            {"content": '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'}
        ),
        "sloppy": lambda: answer(call("{'city': 'Paris',}")),
        "silent": lambda: answer({"content": "I cannot check the weather, but Paris is often mild."}),
        "gemma3:4b": lambda: web.json_response(OLLAMA, status=400),
        "nojinja": lambda: web.json_response(LLAMA_CPP, status=500),
        "noparser": lambda: web.json_response(VLLM, status=400),
    }
    return behaviours[body["model"]]()


def config(tmp_path: Path, upstream: FakeUpstream, *ids: str) -> Path:
    models_yaml = ", ".join(ids)
    return write(tmp_path / "c.yaml", f"providers:\n  - {{name: local, base_url: '{upstream.base_url}', wire: auto, "
                                      f"api_key: '${{KEY}}', models: [{models_yaml}]}}\n")  # fmt: skip


async def test_each_case_with_its_fix(tmp_path: Path, upstream: FakeUpstream) -> None:
    upstream.handler = models
    ids = ["well", "hermes", "sloppy", "silent", "gemma3:4b", "nojinja", "noparser"]
    path = config(tmp_path, upstream, *ids)
    code, out, err = await arun("check", "--tools", "--json", "--config", str(path), env={"KEY": KEY})
    assert code == 1 and KEY not in out + err
    verdicts = {v["model"]: v for v in json.loads(out)}
    assert {m: v["tool_calls"] for m, v in verdicts.items()} == {
        "well": "well", "hermes": "in_text", "sloppy": "invalid", "silent": "never",
        "gemma3:4b": "refused", "nojinja": "refused", "noparser": "refused",
    }  # fmt: skip
    assert verdicts["well"]["ok"] and not any(v["ok"] for m, v in verdicts.items() if m != "well")
    assert "--tool-call-parser hermes" in verdicts["hermes"]["fix"]
    assert "--jinja" in verdicts["nojinja"]["fix"] and "--enable-auto-tool-choice" in verdicts["noparser"]["fix"]
    assert verdicts["silent"]["set"] == "proxyd set local.models.silent.capabilities.tools false"
    assert verdicts["hermes"]["set"] == "proxyd set local.models.hermes.tool_calls.repair true"
    assert all(v["wire"] == "chat" for v in verdicts.values())  # wire: auto tried chat first, and it answered


async def test_the_printed_report_and_its_set_line_works(tmp_path: Path, upstream: FakeUpstream) -> None:
    upstream.handler = models
    path = config(tmp_path, upstream, "well", "gemma3:4b")
    code, out, _ = await arun("check", "--tools", "--config", str(path), env={"KEY": KEY})
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["local", "OK"] and "calls tools well" in out
    assert "does not support tools" in out
    set_line = next(line.split("set:", 1)[1].strip() for line in lines if "set:" in line)
    assert set_line == "proxyd set local.models.gemma3:4b.capabilities.tools false"
    code, _, err = await arun("set", *set_line.split()[2:], "--config", str(path), env={"KEY": KEY})
    assert code == 0, err
    code, out, _ = await arun("check", "--tools", "--config", str(path), env={"KEY": KEY})
    assert code == 0 and "gemma3:4b" not in out  # declared without tools: not probed again


async def test_all_well_exits_zero(tmp_path: Path, upstream: FakeUpstream) -> None:
    upstream.handler = models
    code, out, _ = await arun("check", "--tools", "--config", str(config(tmp_path, upstream, "well")), env={"KEY": KEY})
    assert code == 0 and "the model sent: get_weather" in out


async def test_a_server_that_does_not_answer_is_unreachable_not_modelless() -> None:
    from proxyd.checkup.tool_run import check_tools
    from tests.conftest import make_config
    from tests.daemons import free_port

    config = make_config(
        {"providers": [{"name": "gone", "base_url": f"http://127.0.0.1:{free_port()}/v1", "wire": "chat"}]}
    )
    (verdict,) = await check_tools(config, [], 2)
    assert (
        not verdict.ok
        and "connection refused" in (verdict.cause or "")
        and "no model to probe" not in (verdict.cause or "")
    )

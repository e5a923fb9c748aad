"""Prompt-cache hits through proxyd: an agent's conversation of N turns (a Claude Code-sized
system prompt and tools, a growing history), measured by what the providers report as cached.

    .venv/bin/python -m bench.cachehits              # 20 turns a conversation; writes bench/cachehits.md
    .venv/bin/python -m bench.cachehits --turns 4    # a quick check

Two rows of two settings each:

- **A model group of two prefix-caching servers** (vLLM-like: a server reports cached tokens
  only for the longest prefix it saw before, on that instance), weighted 50/50: with session
  affinity and without (``affinity: false``).
- **A chat client to an Anthropic provider** (Anthropic-like: a read at the longest marked
  prefix written before, a write at each new breakpoint): with ``prompt_cache: auto`` and off.

The hit ratio is cached prompt tokens over all prompt tokens, over every turn but the first of
each conversation (the first can hit nothing); each turn's new message cannot hit either, so the
ideal is every turn on one cache (a row of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxyd.config.parse import parse_config
from proxyd.server import start

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = "You are an agent that edits code. " * 600  # ~20k characters, as Claude Code's system prompt
TOOLS = [{"type": "function", "function": {"name": f"tool_{i}", "description": "does one thing " * 40,
                                           "parameters": {"type": "object"}}} for i in range(12)]  # fmt: skip
CONVERSATIONS = 6


def tokens(text: str) -> int:
    return max(len(text) // 4, 1)


class PrefixCache:
    """What one server instance saw: the prompts' texts, to find the longest shared prefix."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def hit(self, prompt: str) -> int:
        best = 0
        for old in self.seen:
            n = 0
            for a, b in zip(old, prompt, strict=False):
                if a != b:
                    break
                n += 1
            best = max(best, n)
        self.seen.append(prompt)
        return tokens(prompt[:best]) if best else 0


def vllm_like(cache: PrefixCache) -> Any:
    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        prompt = json.dumps([body.get("tools"), body["messages"]])
        cached = cache.hit(prompt)
        usage = {"prompt_tokens": tokens(prompt), "completion_tokens": 5, "total_tokens": tokens(prompt) + 5,
                 "prompt_tokens_details": {"cached_tokens": cached}}  # fmt: skip
        return web.json_response({"id": "c", "object": "chat.completion", "created": 1, "model": body["model"],
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": "done"}}],
                                  "usage": usage})  # fmt: skip

    return handle


def anthropic_like(written: set[str]) -> Any:
    """Anthropic's rules, as its docs give them: a prefix is cached only at a marked block
    (written there the first time); at each mark the 20 blocks before it are looked at for a
    prefix written before (read). Prefixes compare without the marks themselves."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        parts = [("tools", t) for t in body.get("tools") or []]
        system = body.get("system")
        parts += [("system", b) for b in (system if isinstance(system, list) else [system] if system else [])]
        parts += [(m["role"], block) for m in body["messages"] for block in _blocks(m)]
        prefixes, text = [], ""
        for _, part in parts:
            text += json.dumps(_unmarked(part))
            prefixes.append(text)
        read = 0
        for i, (_, part) in enumerate(parts):
            if not _marked(part):
                continue
            for j in range(i, max(i - 20, -1), -1):
                if prefixes[j] in written:
                    read = max(read, tokens(prefixes[j]))
                    break
            written.add(prefixes[i])
        total = tokens(prefixes[-1]) if prefixes else 0
        last_mark = max((tokens(prefixes[i]) for i, (_, p) in enumerate(parts) if _marked(p)), default=0)
        wrote = max(last_mark - read, 0)
        usage = {"input_tokens": total - read - wrote, "cache_read_input_tokens": read,
                 "cache_creation_input_tokens": wrote, "output_tokens": 5}  # fmt: skip
        return web.json_response({"id": "m", "type": "message", "role": "assistant", "model": body["model"],
                                  "content": [{"type": "text", "text": "done"}], "stop_reason": "end_turn",
                                  "stop_sequence": None, "usage": usage})  # fmt: skip

    return handle


def _unmarked(part: Any) -> Any:
    return {k: v for k, v in part.items() if k != "cache_control"} if isinstance(part, dict) else part


def _blocks(message: dict[str, Any]) -> list[Any]:
    content = message.get("content")
    return content if isinstance(content, list) else [content]


def _marked(part: Any) -> bool:
    return isinstance(part, dict) and bool(part.get("cache_control"))


async def conversation(session: aiohttp.ClientSession, url: str, model: str, turns: int, n: int) -> tuple[int, int]:
    """(cached, prompt) tokens over the turns after the first, as the answers' usage says."""
    history: list[dict[str, Any]] = [{"role": "system", "content": f"(session {n}) " + SYSTEM}]
    cached = prompt = 0
    for turn in range(turns):
        history.append({"role": "user", "content": f"step {turn}: " + "context " * 200})
        async with session.post(url, json={"model": model, "messages": history, "tools": TOOLS}) as resp:
            answer = await resp.json()
        usage = answer["usage"]
        history.append({"role": "assistant", "content": "done"})
        if turn:
            prompt += usage["prompt_tokens"]
            cached += (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return cached, prompt


async def measure(config: dict[str, Any], model: str, turns: int, tmp: Path) -> float:
    config = {**config, "listen": {"port": 0}, "health": {"interval_s": 0},
              "store": {"path": str(tmp / "r.sqlite3")}, "ledger": {"enabled": False}}  # fmt: skip
    running = await start(parse_config(config, env={}, read_file=lambda p: Path(p).read_text()))
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{running.port}/v1/chat/completions"
            counts = [await conversation(session, url, model, turns, n) for n in range(CONVERSATIONS)]
    finally:
        await running.runner.cleanup()
    cached, prompt = sum(c for c, _ in counts), sum(p for _, p in counts)
    return cached / prompt if prompt else 0.0


async def run(turns: int) -> dict[str, float]:
    caches = [PrefixCache(), PrefixCache()]
    servers = [TestServer(web_app(vllm_like(c)), host="127.0.0.1") for c in caches]
    written: set[str] = set()
    claude = TestServer(web_app(anthropic_like(written)), host="127.0.0.1")
    for server in [*servers, claude]:
        await server.start_server()
    out: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="proxyd-cachehits-") as tmp:
            caches[0].seen.clear()
            one = [{"name": "vllm0", "base_url": str(servers[0].make_url("/v1")), "wire": "chat", "models": ["m"]}]
            out["one prefix cache for every turn (the ideal)"] = await measure(
                {"providers": one, "groups": [{"alias": "pool", "targets": ["vllm0/m"]}]}, "pool", turns, Path(tmp)
            )
            for affinity in (True, False):
                for c in caches:
                    c.seen.clear()
                providers = [{"name": f"vllm{i}", "base_url": str(s.make_url("/v1")), "wire": "chat", "models": ["m"]}
                             for i, s in enumerate(servers)]  # fmt: skip
                group = {"alias": "pool", "strategy": "weighted", "targets": ["vllm0/m", "vllm1/m"],
                         "affinity": affinity}  # fmt: skip
                name = f"group of two prefix caches, affinity {'on' if affinity else 'off'}"
                out[name] = await measure({"providers": providers, "groups": [group]}, "pool", turns, Path(tmp))
            for auto in ("auto", "off"):
                written.clear()
                provider = {"name": "claude", "base_url": str(claude.make_url("/v1")), "wire": "anthropic",
                            "api_key": "sk-ant-bench", "prompt_cache": auto, "models": ["claude-x"]}  # fmt: skip
                name = f"chat client to an Anthropic provider, prompt_cache {auto}"
                out[name] = await measure({"providers": [provider]}, "claude-x", turns, Path(tmp))
    finally:
        for server in [*servers, claude]:
            await server.close()
    return out


def web_app(handler: Any) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", handler)
    app.router.add_post("/v1/messages", handler)
    return app


def render(results: dict[str, float], turns: int) -> str:
    lines = [f"# Prompt-cache hits ({CONVERSATIONS} conversations of {turns} turns; `python -m bench.cachehits`)",
             "", "The share of prompt tokens the providers reported cached, over every turn but the first. "
             "Each turn's new message cannot be cached: the ideal is every turn on one cache (the first row).",
             "", "| setting | cache hit ratio |", "| --- | ---: |"]  # fmt: skip
    lines += [f"| {name} | {ratio:.3f} |" for name, ratio in results.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cachehits", description=__doc__)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "bench" / "cachehits.md"))
    args = parser.parse_args(argv)
    text = render(asyncio.run(run(args.turns)), args.turns)
    print(text)
    if args.turns == 20:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A stand-in for llama.cpp's ``llama-server`` that proxyd runs as a child in the tests:
``python -m tests.fakes.llama_server --port P [--load-s S] [--ctx N] [--alias NAME]``.

It behaves as llama-server does where proxyd looks: it listens at once but answers every path
``503 {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}`` until
its model has "loaded"; ``/health`` then says ``{"status": "ok"}``, ``/props`` gives the slot's
``n_ctx``, ``/v1/models`` lists its alias, and chat completions answer as the echo fake does. A
prompt past its context is refused as llama-server refuses it (``exceed_context_size_error``,
with ``n_prompt_tokens`` and ``n_ctx``); like llama-server it does not refuse a large
``max_tokens``. It prints log lines as it goes; ``--crash-on-load`` exits 1 while loading.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from aiohttp import web

from tests.fakes.echo import answer_chat

_LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}


def _say(line: str) -> None:
    print(line, flush=True)


def make_app(args: argparse.Namespace) -> web.Application:
    loaded_at = time.monotonic() + args.load_s

    async def handle(request: web.Request) -> web.StreamResponse:
        if time.monotonic() < loaded_at:
            return web.json_response(_LOADING, status=503)
        path = request.path
        if path == "/health":
            return web.json_response({"status": "ok"})
        if path == "/props":
            return web.json_response({"default_generation_settings": {"n_ctx": args.ctx}, "total_slots": 1})
        if path == "/v1/models":
            return web.json_response({"object": "list", "data": [{"id": args.alias, "object": "model"}]})
        if path == "/v1/chat/completions" and request.method == "POST":
            body = await request.json()
            prompt = len(json.dumps(body["messages"])) // 4  # its "tokenizer": 4 bytes a token
            if prompt > args.ctx:
                error = {"code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": prompt,
                         "n_ctx": args.ctx, "message": "the request exceeds the available context size, try "
                         "increasing it"}  # fmt: skip
                return web.json_response({"error": error}, status=400)
            _say(f"slot launch_slot_: id 0 | task 1 | processing task, max_tokens={body.get('max_tokens')}")
            body["model"] = args.alias
            return await answer_chat(request, body)
        return web.json_response({"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}},
                                 status=404)  # fmt: skip

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def main(args: argparse.Namespace) -> None:
    _say(f"main: fake llama-server pid {os.getpid()} loading model {args.alias} (ctx {args.ctx})")
    if args.secret_env:  # as servers print their settings at start
        _say(f"main: {args.secret_env}={os.environ.get(args.secret_env, '')}")
    if args.api_key:
        _say(f"main: args: --port {args.port} --api-key {args.api_key}")
    runner = web.AppRunner(make_app(args))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    await asyncio.sleep(args.load_s)
    if args.crash_on_load:
        _say("main: error: failed to load model")
        sys.exit(1)
    _say("main: model loaded; server is listening")
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--load-s", type=float, default=0.3)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--alias", default="fake")
    parser.add_argument("--crash-on-load", action="store_true")
    parser.add_argument("--secret-env", default="")
    parser.add_argument("--api-key", default="")
    asyncio.run(main(parser.parse_args()))

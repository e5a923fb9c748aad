"""A fake local server as strict as Ollama's OpenAI API: it lists its models, streams chat
completions for those, answers an unknown model with Ollama's 404 body, and any other path
with Go's plain-text 404."""

from __future__ import annotations

import json

from aiohttp import web

from tests.conftest import Handler


def ollama_like(models: tuple[str, ...] = ("llama3.2", "qwen2.5-coder:7b")) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "library"} for m in models]
            return web.json_response({"object": "list", "data": data})
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return web.Response(status=404, text="404 page not found")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response(
                {"error": {"message": "invalid character", "type": "invalid_request_error"}}, status=400
            )
        if body.get("model") not in models:
            message = f'model "{body.get("model")}" not found, try pulling it first'
            return web.json_response({"error": {"message": message, "type": "api_error"}}, status=404)
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": body["model"],
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "OK"}, "finish_reason": None}],
        }
        if not body.get("stream"):
            answer = {
                "id": "c1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
            }
            return web.json_response(answer)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        end = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        await resp.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        return resp

    return handle

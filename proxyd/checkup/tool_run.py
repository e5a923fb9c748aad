"""``proxyd check --tools``: one tool-needing probe per model, judged as real traffic is.

Each provider's models are probed at once (those configured, except ones declared without
tools; else its default model, else the first ``GET /models`` lists), each over the provider's
own session, on its wire (``wire: auto`` tries chat, then Responses). What the answer means is
:mod:`proxyd.checkup.tool_probe`'s to say.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from proxyd.autowire import missing_route
from proxyd.checkup.diagnose import Verdict, status_verdict
from proxyd.checkup.run import connection_failure, listing_diagnosis
from proxyd.checkup.tool_probe import answer_verdict, offered, probe_body, refusal, set_line
from proxyd.config.settings import Config, Provider
from proxyd.diagnosis import Diagnosis
from proxyd.errors import names_model
from proxyd.headers import upstream_request_headers
from proxyd.probes import probe_models
from proxyd.redact import blank_provider_secrets
from proxyd.toolcalls.schemas import Schemas
from proxyd.toolcalls.watch import Judge, check_completion
from proxyd.upstream import create_session
from proxyd.wires.registry import FALLBACK_ORDER, WIRES
from proxyd.wires.turn import Turn

MAX_ANSWER = 1024 * 1024


async def check_tools(config: Config, names: list[str], timeout_s: float) -> list[Verdict]:
    """A verdict per probed model of each named provider (all when none are named); a model
    group's name stands for its targets."""
    groups = {g.alias: g for g in config.groups}
    wanted: dict[str, list[str]] = {}
    for name in names:
        for target in groups[name].targets if name in groups else ():
            wanted.setdefault(target.provider, []).append(target.model)
    providers = [p for p in config.providers if not names or p.name in names or p.name in wanted]
    results = await asyncio.gather(*(_provider(config, p, wanted.get(p.name), timeout_s) for p in providers))
    return [v for verdicts in results for v in verdicts]


async def _provider(config: Config, provider: Provider, models: list[str] | None, timeout_s: float) -> list[Verdict]:
    session = create_session(config.tcp_keepalive, provider.tls)
    try:
        if not models:
            models = [m.id for m in provider.models if m.capability("tools") is not False]
        if not models:
            models = [provider.default_model] if provider.default_model else []
        if not models:
            listing = await probe_models(session, provider, timeout_s)
            models = [listing.models[0].id] if listing.models else []
            problem = listing_diagnosis(provider, listing, timeout_s) if not models else None
            if problem is not None:  # the server is down or refuses: that, not the missing model, is the news
                return [Verdict(provider.name).failed(problem)]
        if not models:
            v = Verdict(provider.name)
            return [v.failed(Diagnosis("no_model_listed", {}, "list_models"))]
        return list(await asyncio.gather(*(_probe(session, provider, m, timeout_s) for m in models)))
    finally:
        await session.close()


async def _probe(session: aiohttp.ClientSession, provider: Provider, model: str, timeout_s: float) -> Verdict:
    v = Verdict(provider.name, model=model)
    wires = list(FALLBACK_ORDER) if provider.wire == "auto" else [provider.wire]
    for wire in wires:
        path = WIRES[wire].path
        v.wire = wire
        started = time.perf_counter()
        try:
            status, body = await _post(session, provider, path, probe_body(wire, model), timeout_s)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return v.failed(connection_failure(exc, provider, provider.base_url, timeout_s))
        v.status, v.latency_ms = status, round((time.perf_counter() - started) * 1000, 1)
        if wire != wires[-1] and missing_route(status, body, model, path):
            continue
        return _judge(v, provider, model, status, body)
    return v  # not reached: the last wire always returns


def _judge(v: Verdict, provider: Provider, model: str, status: int, body: bytes) -> Verdict:
    refused = refusal(status, body)
    if refused is None and status >= 300:
        if names_model(status, body, model, WIRES[v.wire or "chat"].path):
            return v.failed(Diagnosis("unknown_model", {"model": model}, "see_models"))
        return status_verdict(v, status, body, provider.key_source)
    if refused is None:
        wire = WIRES[v.wire or "chat"]
        try:
            completion = wire.answer_to_pivot(_json(body), Turn({}, "resp_check", model, 0))
        except (ValueError, AttributeError, TypeError):
            return v.failed(Diagnosis("not_answer", {"kind": wire.answer_kind}, "see_logs"))
        _, findings = check_completion(completion, Judge(offered(), Schemas(), False, "check"))
        refused = answer_verdict(findings)
        if refused.seen:
            v.notes.append(f"the model sent: {refused.seen}")
    v.tool_calls, v.set = refused.verdict, set_line(provider.name, model, refused.verdict)
    v.ok = refused.verdict == "well"
    v.cause, v.fix = (refused.says, refused.fix) if not v.ok else (None, None)
    if v.ok:
        v.notes.append(refused.says)
    return v


def _json(body: bytes) -> dict[str, object]:
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


async def _post(
    session: aiohttp.ClientSession, provider: Provider, path: str, body: dict[str, object], timeout_s: float
) -> tuple[int, bytes]:
    headers = [*upstream_request_headers((), provider), ("Content-Type", "application/json")]
    timeout = aiohttp.ClientTimeout(total=None, connect=min(provider.timeouts.connect_s, timeout_s))
    async with asyncio.timeout(timeout_s):
        async with session.post(
            provider.base_url + path, json=body, headers=headers, allow_redirects=False, timeout=timeout
        ) as resp:
            return resp.status, blank_provider_secrets((await resp.read())[:MAX_ANSWER], provider)

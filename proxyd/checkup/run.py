"""``proxyd check``: send each provider a one-token probe and explain any failure.

The probe goes to the wire the provider uses (``wire: auto`` tries ``/responses`` and falls
back to ``/chat/completions`` as the proxy would). Failures are told as a cause and a fix
(:mod:`proxyd.checkup.diagnose`); a 404 is retried with the other forms of the base URL, and an unknown
model is answered with the ids ``GET /models`` lists.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import aiohttp

from proxyd.autowire import missing_route, reason
from proxyd.checkup.diagnose import (
    MODEL_PLACEHOLDER,
    Probe,
    Verdict,
    curl_command,
    probe_for,
    status_diagnosis,
    status_verdict,
    stream_verdicts,
    unknown_model_verdict,
    url_forms_to_try,
    working_form_advice,
)
from proxyd.config.services import detect
from proxyd.config.settings import Config, GroupTarget, ModelEntry, Provider
from proxyd.diagnosis import Diagnosis
from proxyd.errors import names_model
from proxyd.headers import upstream_request_headers
from proxyd.probes import probe_models
from proxyd.reachability import ProbeResult
from proxyd.redact import blank_provider_secrets
from proxyd.upstream import create_session
from proxyd.usage import TAIL_BYTES

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    status: int | None = None
    content_type: str = ""
    body: bytes = b""
    latency_ms: float = 0.0
    failure: Diagnosis | None = None  # when no usable answer came
    stalled_s: float | None = None


async def check_providers(config: Config, names: list[str], timeout_s: float) -> list[Verdict]:
    """Each named provider (all when none are named), then every target of each model group
    (the named groups, or the groups holding a named provider), labelled ``group: target``."""
    aliases = {g.alias for g in config.groups}
    providers = [n for n in names if n not in aliases]
    verdicts: list[Verdict] = []
    if providers or not names:
        verdicts = list((await _each(config, providers, lambda session, p: _check(session, p, timeout_s))).values())
    targets = [(g.alias, t) for g in config.groups for t in g.targets
               if not names or g.alias in names or t.provider in names]  # fmt: skip
    return verdicts + list(await asyncio.gather(*(_check_target(config, alias, t, timeout_s) for alias, t in targets)))


async def _check_target(config: Config, alias: str, target: GroupTarget, timeout_s: float) -> Verdict:
    provider = config.provider(target.provider)
    assert provider is not None  # config checks guarantee it
    session = create_session(config.tcp_keepalive, provider.tls)
    try:
        verdict = await _check(session, provider, timeout_s, target.model)
    finally:
        await session.close()
    verdict.provider = f"{alias}: {target.key}"
    return verdict


async def discover(config: Config, names: list[str], timeout_s: float) -> dict[str, tuple[ModelEntry, ...] | None]:
    """Each provider's ``GET /models`` listing; ``None`` where it gave no list."""
    results = await _each(config, names, lambda session, p: probe_models(session, p, timeout_s))
    return {name: r.models for name, r in results.items()}


async def _each(
    config: Config, names: list[str], probe: Callable[[aiohttp.ClientSession, Provider], Awaitable[T]]
) -> dict[str, T]:
    """``probe`` each named provider (all when none are named) at once, each over its own
    session, since sessions carry the provider's TLS settings; results by name, in config order."""

    async def one(provider: Provider) -> T:
        session = create_session(config.tcp_keepalive, provider.tls)
        try:
            return await probe(session, provider)
        finally:
            await session.close()

    providers = [p for p in config.providers if not names or p.name in names]
    results = await asyncio.gather(*(one(p) for p in providers))
    return {p.name: r for p, r in zip(providers, results, strict=True)}


async def _check(
    session: aiohttp.ClientSession, provider: Provider, timeout_s: float, model: str | None = None
) -> Verdict:
    v = Verdict(provider.name)
    wires = ["responses", "chat"] if provider.wire == "auto" else [provider.wire]
    model = model or provider.default_model or (provider.models[0].id if provider.models else None)
    if model is None:
        listing = await probe_models(session, provider, timeout_s)
        if not listing.models:
            v.curl = curl_command(provider, provider.base_url, probe_for(wires[0], MODEL_PLACEHOLDER))
            return _no_model(v, provider, listing, timeout_s)
        model = listing.models[0].id
        v.note("probing_first", model=model)
    v.model = model
    for wire in wires:
        probe = probe_for(wire, model)
        v.wire, v.curl = wire, curl_command(provider, provider.base_url, probe)
        out = await _attempt(session, provider, provider.base_url, probe, timeout_s)
        fallback = wire == "responses" and len(wires) > 1 and out.status is not None
        if fallback and missing_route(out.status or 0, out.body, model, probe.path):
            v.note("no_responses", reason=reason(out.status or 0, out.body))
            continue
        return await _judge(session, provider, probe, out, v, timeout_s)
    return v  # not reached: the last wire always returns


def listing_diagnosis(
    provider: Provider, listing: ProbeResult, timeout_s: float, degraded_after_s: float | None = None
) -> Diagnosis | None:
    """What a ``GET /models`` probe shows wrong: the server down, refusing the key or failing (and,
    given ``degraded_after_s``, slow); ``None`` when it answered well enough (the health probe's
    verdict, in words)."""
    if listing.status is None:
        problem = connection_failure(listing.failure or TimeoutError(), provider, provider.base_url, timeout_s)
        return dataclasses.replace(problem, via="GET /models")
    if listing.misplaced is not None:
        return listing.misplaced
    if listing.status in (401, 403, 429) or listing.status >= 500:
        return status_diagnosis(listing.status, listing.body, provider.key_source)
    if degraded_after_s is not None and listing.latency_s >= degraded_after_s:
        return Diagnosis("slow_listing", {"seconds": round(listing.latency_s, 2), "limit": degraded_after_s})
    return None


def _no_model(v: Verdict, provider: Provider, listing: ProbeResult, timeout_s: float) -> Verdict:
    """Why no model could be found to probe: the server first (down, refusing the key, failing),
    the missing default_model only when the server answered and listed none."""
    v.status = listing.status
    problem = listing_diagnosis(provider, listing, timeout_s)
    if problem is not None:
        return v.failed(problem)
    assert listing.status is not None
    code = "no_model" if listing.status >= 300 else "no_model_listed"
    return v.failed(Diagnosis(code, {"status": listing.status}, "set_default_model"))


async def _judge(
    session: aiohttp.ClientSession, provider: Provider, probe: Probe, out: Outcome, v: Verdict, timeout_s: float
) -> Verdict:
    v.status, v.latency_ms = out.status, round(out.latency_ms, 1)
    if out.failure is not None:
        return v.failed(out.failure)
    assert out.status is not None
    if names_model(out.status, out.body, probe.model, probe.path):
        listing = await probe_models(session, provider, timeout_s)
        listed = tuple(m.id for m in listing.models or ())
        return unknown_model_verdict(v, probe.model, listed)
    if out.status == 404:
        return await _wrong_path(session, provider, probe, v, timeout_s)
    if out.status >= 300:
        return status_verdict(v, out.status, out.body, provider.key_source)
    problem = stream_verdicts(out.content_type, out.stalled_s)
    if problem is not None:
        return v.failed(problem)
    if provider.base_url_added:
        v.note("base_url_added", added=provider.base_url_added, url=provider.base_url + probe.path)
    v.ok = True
    return v


async def _wrong_path(
    session: aiohttp.ClientSession, provider: Provider, probe: Probe, v: Verdict, timeout_s: float
) -> Verdict:
    forms = url_forms_to_try(provider)
    for form in forms:
        out = await _attempt(session, provider, form, probe, timeout_s)
        if out.status is not None and 200 <= out.status < 300:
            v.note("form_answered", url=form + probe.path, status=out.status)
            return v.failed(working_form_advice(provider, probe.path, form))
    url, tried = provider.base_url + probe.path, ", ".join(forms)
    return v.failed(Diagnosis("http_404", {"url": url, "forms": tried}, "wrong_path"))


async def _attempt(
    session: aiohttp.ClientSession, provider: Provider, base_url: str, probe: Probe, timeout_s: float
) -> Outcome:
    headers = [*upstream_request_headers((), provider), ("Content-Type", "application/json")]
    timeout = aiohttp.ClientTimeout(total=None, connect=min(provider.timeouts.connect_s, timeout_s))
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            resp = await session.post(
                base_url + probe.path, json=probe.body, headers=headers, allow_redirects=False, timeout=timeout
            )
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return Outcome(failure=connection_failure(exc, provider, base_url, timeout_s))
    async with resp:
        if resp.status >= 300 or resp.content_type != "text/event-stream":
            body = blank_provider_secrets(await resp.content.read(TAIL_BYTES), provider)
            latency = (time.perf_counter() - started) * 1000
            return Outcome(resp.status, resp.content_type, body, latency)
        stalled = await _read_stream(resp, timeout_s)
        latency = (time.perf_counter() - started) * 1000
        return Outcome(resp.status, resp.content_type, b"", latency, stalled_s=stalled)


async def _read_stream(resp: aiohttp.ClientResponse, timeout_s: float) -> float | None:
    """Read the stream to its end; the seconds waited when no event came at all."""
    try:
        async with asyncio.timeout(timeout_s):
            first = await resp.content.readany()
    except (TimeoutError, aiohttp.ClientError):
        return timeout_s
    if not first:
        return timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            while await resp.content.readany():
                pass
    except (TimeoutError, aiohttp.ClientError):
        pass  # it started streaming; a one-token answer that lingers is not this check's business
    return None


def connection_failure(exc: BaseException, provider: Provider, base_url: str, timeout_s: float) -> Diagnosis:
    parts = urlsplit(base_url)
    where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return Diagnosis("tls_untrusted", {"where": where})
    if isinstance(exc, aiohttp.ClientSSLError):
        return Diagnosis("tls_failed", {"where": where})
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        host = parts.hostname or ""
        if provider.service is not None and detect(base_url) is not None:  # a known service's own name is right
            return Diagnosis("dns_offline", {"host": host, "service": provider.service})
        return Diagnosis("dns_unknown", {"host": host})
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Diagnosis("refused", {"where": where})
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return Diagnosis("timeout", {"where": where, "seconds": timeout_s})
    return Diagnosis("request_failed", {"where": where, "error": type(exc).__name__})

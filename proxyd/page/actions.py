"""What the page's buttons do: the same probe as ``proxyd check``, the same edits as
``proxyd add/remove/set``, and a reload of the edited file at once.

Edits read and write the config in a thread (they are file I/O), then put the new file in force
through the reloader, so the page's next poll already shows it, with or without the file
watcher. A key pasted into the page goes to a 0600 file beside the config, as with
``proxyd add --key -``; it is never written into the YAML nor sent back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from proxyd.checkup.run import check_providers, listing_diagnosis
from proxyd.config import Config, ConfigError, Provider
from proxyd.errors import ProxyError
from proxyd.health import probe_models
from proxyd.loader import load_text
from proxyd.onboard import edit
from proxyd.page.forms import ProviderForm, SetForm
from proxyd.page.view import row
from proxyd.reload import Reloader
from proxyd.upstream import create_session

_PASTED = "PROXYD_PAGE_PASTED_KEY"  # how a pasted key reaches the candidate provider, in memory


async def test(config: Config, name: str) -> dict[str, Any]:
    """``proxyd check`` for one provider: round-trip time, cause and fix, and the curl command."""
    if config.provider(name) is None:
        raise ProxyError(404, f"no provider named {name!r}", code="unknown_provider")
    verdicts = await check_providers(config, [name], config.health.timeout_s)
    return dataclasses.asdict(verdicts[0])


async def catalog(form: ProviderForm, path: Path, config: Config) -> dict[str, Any]:
    """Check a provider before it is added: its ``GET /models`` answer, models or a diagnosis."""
    provider = candidate(form, path)
    session = create_session(config.tcp_keepalive, provider.tls)
    try:
        listing = await probe_models(session, provider, config.health.timeout_s)
    finally:
        await session.close()
    problem = listing_diagnosis(provider, listing, config.health.timeout_s)
    models = [row(m, "discovered", "provider" if m.context_window else "default") for m in listing.models or ()]
    if problem is None and not models:
        problem = (f"GET /models answered HTTP {listing.status} with no model list",
                   "type the model ids this provider serves")  # fmt: skip
    return {
        "ok": problem is None,
        "status": listing.status,
        "latency_ms": round(listing.latency_s * 1000, 1),
        "base_url": provider.base_url,
        "service": provider.service,
        "models": models,
        "cause": problem[0] if problem else None,
        "fix": problem[1] if problem else None,
    }


def candidate(form: ProviderForm, path: Path) -> Provider:
    """The provider the form describes, loaded as the config would load it (key in memory only)."""
    entry: dict[str, Any] = {"name": form.name, "base_url": form.base_url, "wire": form.wire}
    entry.update(form.key_entry())
    if form.key_kind == "paste":
        entry["api_key"] = f"${{{_PASTED}}}"
    if form.headers:
        entry["headers"] = dict(form.headers)
    env = {**os.environ, _PASTED: form.key_value}
    try:
        return load_text(yaml.safe_dump({"providers": [entry]}), path, env).providers[0]
    except ConfigError as exc:
        raise ProxyError(400, "this provider would not load: " + "; ".join(exc.errors), code="invalid_form") from None


async def add(form: ProviderForm, path: Path, reloader: Reloader) -> dict[str, Any]:
    def change(doc: Any) -> str:
        key_file = edit.key_file(path, form.name, form.key_value) if form.key_kind == "paste" else None
        key = form.key_entry(key_file)
        edit.add_provider(doc, form.name, form.base_url, key, form.wire if form.wire != "auto" else None,
                          dict(form.headers), list(form.models))  # fmt: skip
        return f"added provider {form.name}"

    pasted = path.parent / "keys" / form.name
    existed = pasted.exists()
    try:
        return await _edit(path, reloader, change)
    except ProxyError:
        if form.key_kind == "paste" and not existed:
            pasted.unlink(missing_ok=True)  # the edit failed: keep no key for a provider that is not there
        raise


async def remove(name: str, path: Path, reloader: Reloader) -> dict[str, Any]:
    def change(doc: Any) -> str:
        edit.remove_provider(doc, name)
        return f"removed provider {name}"

    return await _edit(path, reloader, change)


async def set_value(form: SetForm, path: Path, reloader: Reloader) -> dict[str, Any]:
    def change(doc: Any) -> str:
        if form.model is not None:
            edit.set_model_value(doc, form.provider, form.model, form.key, form.value)
            where = f"{form.provider}.models.{form.model}.{form.key}"
        else:
            edit.set_provider_value(doc, form.provider, form.key, form.value)
            where = f"{form.provider}.{form.key}"
        return f"set {where} = {form.value!r}" if form.value is not None else f"took {where} out"

    return await _edit(path, reloader, change)


async def _edit(path: Path, reloader: Reloader, change: Callable[[Any], str]) -> dict[str, Any]:
    def write() -> str:
        doc = edit.read(path)
        did = change(doc)
        edit.write_checked(path, edit.dump(doc), dict(os.environ), env_is_proxyds=True)
        return did

    try:
        did = await asyncio.to_thread(write)
    except edit.EditError as exc:
        raise ProxyError(409, str(exc), code="config_edit_refused") from None
    if not await reloader.reload("page"):
        errors = (reloader.last or {}).get("errors", [])
        raise ProxyError(409, f"{did} in {path}, but proxyd did not take it: " + "; ".join(errors),
                         code="config_reload_failed")  # fmt: skip
    return {"ok": True, "done": did, "config": str(path)}

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
from proxyd.config.keys import env_names, escape_env
from proxyd.config.loader import load_text
from proxyd.config.settings import Config, ConfigError, Provider
from proxyd.diagnosis import Diagnosis, say
from proxyd.errors import ProxyError
from proxyd.onboard import edit
from proxyd.page.forms import ProviderForm, SetForm, invalid
from proxyd.page.view import row
from proxyd.probes import probe_models
from proxyd.reload import Reloader
from proxyd.upstream import create_session

# What a change did, in English (the page says it from the code: its catalogs' done.CODE).
DONE = {"added": "added provider {name}", "removed": "removed provider {name}", "set": "set {where} = {value}",
        "unset": "took {where} out"}  # fmt: skip
_PASTED = "PROXYD_PAGE_PASTED_KEY"  # how a pasted key reaches the candidate provider, in memory


async def test(config: Config, name: str) -> dict[str, Any]:
    """``proxyd check`` for one provider: round-trip time, cause and fix, and the curl command."""
    if config.provider(name) is None:
        raise ProxyError(404, f"no provider named {name!r}", code="unknown_provider")
    verdicts = await check_providers(config, [name], config.health.timeout_s)
    return dataclasses.asdict(verdicts[0])


async def catalog(form: ProviderForm, path: Path, config: Config) -> dict[str, Any]:
    """Check a provider before it is added: its ``GET /models`` answer, models or a diagnosis."""
    provider = candidate(form, path, config)
    session = create_session(config.tcp_keepalive, provider.tls)
    try:
        listing = await probe_models(session, provider, config.health.timeout_s)
    finally:
        await session.close()
    problem = listing_diagnosis(provider, listing, config.health.timeout_s)
    models = [row(m, "discovered", "provider" if m.context_window else "default") for m in listing.models or ()]
    if problem is None and not models:
        problem = Diagnosis("no_model_list", {"status": listing.status or 0}, "type_models")
    return {
        "ok": problem is None,
        "status": listing.status,
        "latency_ms": round(listing.latency_s * 1000, 1),
        "base_url": provider.base_url,
        "service": provider.service,
        "models": models,
        "cause": problem.cause if problem else None,
        "fix": problem.fix if problem else None,
        "diagnosis": problem.as_json() if problem else None,
    }


def candidate(form: ProviderForm, path: Path, config: Config) -> Provider:
    """The provider the form describes, loaded as the config would load it (key in memory only):
    what was typed is taken literally, and a key may come only from where the config's keys do."""
    check_key_reference(form, config, path)
    entry: dict[str, Any] = {"name": form.name, "base_url": escape_env(form.base_url), "wire": form.wire}
    entry.update(form.key_entry())
    if form.key_kind == "paste":
        entry["api_key"] = f"${{{_PASTED}}}"
    if form.headers:
        entry["headers"] = _literal_headers(form)
    env = {**os.environ, _PASTED: form.key_value}
    try:
        return load_text(yaml.safe_dump({"providers": [entry]}), path, env).providers[0]
    except ConfigError as exc:
        raise ProxyError(400, "this provider would not load: " + "; ".join(exc.errors), code="invalid_form") from None


async def add(form: ProviderForm, path: Path, reloader: Reloader, config: Config) -> dict[str, Any]:
    check_key_reference(form, config, path)
    pasted = path.parent / "keys" / form.name
    before: list[bytes | None] = []

    def change(doc: Any) -> dict[str, Any]:
        key = form.key_entry(f"keys/{form.name}")
        edit.add_provider(doc, form.name, escape_env(form.base_url), key, form.wire if form.wire != "auto" else None,
                          _literal_headers(form), list(form.models))  # fmt: skip
        if form.key_kind == "paste":  # only once the entry is accepted: a refused add writes nothing
            before.append(pasted.read_bytes() if pasted.exists() else None)
            edit.key_file(path, form.name, form.key_value)
        return {"code": "added", "name": form.name}

    try:
        return await _edit(path, reloader, change)
    except ProxyError:
        if before:
            await asyncio.to_thread(_restore, pasted, before[0])
        raise


def _restore(path: Path, content: bytes | None) -> None:
    """Put back what a key file held before a change that was not accepted."""
    if content is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(content)


def _literal_headers(form: ProviderForm) -> dict[str, str]:
    return {name: escape_env(value) for name, value in form.headers}


def check_key_reference(form: ProviderForm, config: Config, path: Path) -> None:
    """A key "from an environment variable" or "from a file" may name only what the config's
    providers already take their keys from, or a file in the config's ``keys/`` folder: the page
    must not become a way to send proxyd's other secrets (its tokens, the store's URL, any file
    it can read) to a server of the typist's choosing."""
    if form.key_kind not in ("env", "file"):
        return
    sources = [p.key_source for p in config.providers]
    if form.key_kind == "env":
        known = {name for s in sources for name in env_names(s)}
        if form.key_value not in known:
            raise invalid("key.value", "the page takes a key from an environment variable only when a provider "
                          f"of the config already does ({', '.join(sorted(known)) or 'none does'}); paste the key, "
                          "or add the provider with proxyd add --key-env")  # fmt: skip
        return
    folder = os.path.realpath(path.parent / "keys")
    known_files = {os.path.realpath(path.parent / s[len("file ") :]) for s in sources if s.startswith("file ")}
    target = os.path.realpath(path.parent / form.key_value)
    if target not in known_files and os.path.commonpath([folder, target]) != folder:
        raise invalid("key.value", f"the page takes a key from a file only in {folder}/ or from a file a provider "
                      "of the config already uses; paste the key, or put the file there")  # fmt: skip


async def remove(name: str, path: Path, reloader: Reloader) -> dict[str, Any]:
    def change(doc: Any) -> dict[str, Any]:
        edit.remove_provider(doc, name)
        return {"code": "removed", "name": name}

    return await _edit(path, reloader, change)


async def set_value(form: SetForm, path: Path, reloader: Reloader) -> dict[str, Any]:
    def change(doc: Any) -> dict[str, Any]:
        if form.model is not None:
            edit.set_model_value(doc, form.provider, form.model, form.key, form.value)
            where = f"{form.provider}.models.{form.model}.{form.key}"  # a config path, in every language
        else:
            # base_url is the one value the page sets that the loader expands: keep a typed "${" as typed
            value = escape_env(form.value) if form.key == "base_url" and form.value is not None else form.value
            edit.set_provider_value(doc, form.provider, form.key, value)
            where = f"{form.provider}.{form.key}"
        if form.value is None:
            return {"code": "unset", "where": where}
        return {"code": "set", "where": where, "value": form.value}

    return await _edit(path, reloader, change)


async def _edit(path: Path, reloader: Reloader, change: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Make ``change``, which says what it did (a :data:`DONE` code and its values), and put it in force."""

    def write() -> dict[str, Any]:
        doc = edit.read(path)
        did = change(doc)
        edit.write_checked(path, edit.dump(doc), dict(os.environ), env_is_proxyds=True)
        return did

    try:
        did = await asyncio.to_thread(write)
    except edit.EditError as exc:
        raise ProxyError(409, str(exc), code="config_edit_refused") from None
    said = say(DONE[did["code"]], did)
    if not await reloader.reload("page"):
        errors = (reloader.last or {}).get("errors", [])
        raise ProxyError(409, f"{said} in {path}, but proxyd did not take it: " + "; ".join(errors),
                         code="config_reload_failed")  # fmt: skip
    return {"ok": True, "done": said, "did": did, "config": str(path)}

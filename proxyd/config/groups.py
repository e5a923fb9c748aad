"""The ``failover`` and ``groups`` sections of the config (pure).

A group is an alias (or a pattern, ``claude-*``) for several ``provider/model`` targets, tried
in turn when one fails before answering. Problems are reported with their YAML paths: a target
whose provider is not configured, a target naming a group (itself included: a group holds
models, not groups), weights on a group that is not ``weighted``, an alias used twice.
"""

from __future__ import annotations

from typing import Any

from proxyd.config.settings import STRATEGIES, Cooldown, Failover, Group, GroupTarget, Provider
from proxyd.config.yaml_fields import Errors, check_keys, integer, number, section

_GROUP_KEYS = {"alias", "targets", "strategy", "retries", "deadline_s", "retry_after_max_s", "cooldown", "affinity"}
_FAILOVER_KEYS = {"retries", "deadline_s", "retry_after_max_s", "cooldown"}


def parse_failover(raw: object, path: str, errs: Errors, base: Failover | None = None) -> Failover:
    """Failover settings at ``path``; keys it leaves out keep ``base``'s values (the defaults')."""
    base = base or Failover()
    doc = section(raw, path, errs)
    check_keys(doc, _FAILOVER_KEYS, path, errs)
    cool = section(doc.get("cooldown"), f"{path}.cooldown", errs)
    check_keys(cool, {"failures", "window_s", "base_s", "max_s"}, f"{path}.cooldown", errs)
    c = base.cooldown
    cooldown = Cooldown(
        failures=integer(cool, "failures", c.failures, f"{path}.cooldown", errs, lo=1, hi=1000),
        window_s=number(cool, "window_s", c.window_s, f"{path}.cooldown", errs, lo=0.001),
        base_s=number(cool, "base_s", c.base_s, f"{path}.cooldown", errs, lo=0.0),
        max_s=number(cool, "max_s", c.max_s, f"{path}.cooldown", errs, lo=0.0),
    )
    return Failover(
        retries=integer(doc, "retries", base.retries, path, errs, lo=0, hi=10),
        deadline_s=number(doc, "deadline_s", base.deadline_s, path, errs, lo=0.001),
        retry_after_max_s=number(doc, "retry_after_max_s", base.retry_after_max_s, path, errs, lo=0.0),
        cooldown=cooldown,
    )


def parse_groups(raw: object, providers: list[Provider], defaults: Failover, errs: Errors) -> tuple[Group, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errs.add("groups", "must be a list of groups: {alias: NAME, targets: [provider/model, ...]}")
        return ()
    names = {p.name for p in providers}
    aliases = {doc.get("alias") for doc in raw if isinstance(doc, dict)}
    model_aliases = {m.alias: p.name for p in providers for m in p.models if m.alias}
    groups: list[Group] = []
    for i, doc in enumerate(raw):
        path = f"groups[{i}]"
        group = _group(doc, path, names, aliases, defaults, errs)
        if group is None:
            continue
        if any(g.alias == group.alias for g in groups):
            errs.add(f"{path}.alias", f"{group.alias!r} names an earlier group too; aliases must be unique")
        elif group.alias in model_aliases:
            errs.add(f"{path}.alias", f"{group.alias!r} is already a model alias in {model_aliases[group.alias]}")
        groups.append(group)
    return tuple(groups)


def _group(
    raw: object, path: str, providers: set[str], aliases: set[Any], defaults: Failover, errs: Errors
) -> Group | None:
    if not isinstance(raw, dict):
        errs.add(path, "must be a mapping: {alias: NAME, targets: [provider/model, ...]}")
        return None
    check_keys(raw, _GROUP_KEYS, path, errs)
    alias = raw.get("alias")
    if not isinstance(alias, str) or not alias.strip():
        errs.add(f"{path}.alias", "must be the model name clients send (or a pattern such as claude-*)")
        return None
    strategy = raw.get("strategy", "ordered")
    if strategy not in STRATEGIES:
        errs.add(f"{path}.strategy", f"must be one of {', '.join(STRATEGIES)} (got {strategy!r})")
        strategy = "ordered"
    targets = _targets(raw.get("targets"), f"{path}.targets", alias, providers, aliases, strategy, errs)
    failover = parse_failover({k: v for k, v in raw.items() if k in _FAILOVER_KEYS}, path, errs, defaults)
    affinity = raw.get("affinity", True)
    if not isinstance(affinity, bool):
        errs.add(f"{path}.affinity", "must be true (a conversation keeps to one target) or false (as planned)")
        affinity = True
    return Group(alias=alias, targets=targets, strategy=strategy, failover=failover, affinity=affinity)


def _targets(
    raw: object, path: str, alias: str, providers: set[str], aliases: set[Any], strategy: str, errs: Errors
) -> tuple[GroupTarget, ...]:
    if not isinstance(raw, list) or not raw:
        errs.add(path, "must be a list of one or more targets, each provider/model")
        return ()
    out: list[GroupTarget] = []
    for j, item in enumerate(raw):
        where = f"{path}[{j}]"
        entry = {"target": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or not isinstance(entry.get("target"), str):
            errs.add(where, "must be provider/model, or {target: provider/model, weight: N}")
            continue
        check_keys(entry, {"target", "weight"}, where, errs)
        name = entry["target"].strip()
        provider, slash, model = name.partition("/")
        if name == alias or name in aliases:
            what = "itself" if name == alias else f"the group {name!r}"
            errs.add(where, f"a group cannot include {what}: name a provider/model target")
            continue
        if not slash or not model or provider not in providers:
            known = ", ".join(sorted(providers)) or "none"
            errs.add(where, f"{name!r} is not provider/model with a configured provider (configured: {known})")
            continue
        if "weight" in entry and strategy != "weighted":
            errs.add(f"{where}.weight", f"weights apply to strategy: weighted, and this group is {strategy}")
        weight = number(entry, "weight", 1.0, where, errs, lo=0.001)
        if any(t.key == name for t in out):
            errs.add(where, f"{name!r} is listed twice")
        out.append(GroupTarget(provider, model, weight))
    return tuple(out)

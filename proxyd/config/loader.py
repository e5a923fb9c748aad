"""Finding, reading and checking the config file: the I/O around :func:`proxyd.config.parse_config`.

Search order: ``--config``, ``$PROXYD_CONFIG``, ``$XDG_CONFIG_HOME/proxyd/config.yaml``
(``~/.config/proxyd/config.yaml``), then the example shipped in ``config/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from proxyd.config.parse import parse_config
from proxyd.config.settings import Config, ConfigError
from proxyd.config.yaml_errors import yaml_problem
from proxyd.redact import MIN_SECRET

# config/example.yaml, shipped inside the package (a symlink in the source tree) so installs have it.
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "example.yaml"


def find_config(explicit: str | None, env: Mapping[str, str]) -> tuple[Path, str]:
    """Return the config path to use and a few words saying why it was chosen."""
    if explicit:
        return Path(explicit).expanduser(), "--config"
    if env.get("PROXYD_CONFIG"):
        return Path(env["PROXYD_CONFIG"]).expanduser(), "$PROXYD_CONFIG"
    user = user_config(env)
    if user.is_file():
        return user, "user config"
    return EXAMPLE_CONFIG, "shipped example (no user config found)"


def user_config(env: Mapping[str, str]) -> Path:
    """The user's config path, ``$XDG_CONFIG_HOME/proxyd/config.yaml``, whether it exists or not."""
    xdg = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(xdg) / "proxyd" / "config.yaml"


def state_dir(env: Mapping[str, str]) -> Path:
    """proxyd's folder for what it keeps (the response store, a background serve's log):
    ``$XDG_STATE_HOME/proxyd`` (``~/.local/state/proxyd``)."""
    state = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "state")
    return Path(state) / "proxyd"


def load_config(path: Path, env: Mapping[str, str] | None = None, seen: list[Path] | None = None) -> Config:
    """Read and check ``path``; raise :class:`ConfigError` naming every problem.

    ``seen`` collects the other files the config made proxyd read (``api_key_file``), so a
    reloader can watch them too.
    """
    env = os.environ if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or type(exc).__name__}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: is not UTF-8 text"]) from None
    return load_text(text, path, env, seen)


def load_text(text: str, path: Path, env: Mapping[str, str], seen: list[Path] | None = None) -> Config:
    """Check a config's ``text`` as if it were the file at ``path`` (whose folder anchors
    ``api_key_file`` paths); raise :class:`ConfigError` naming every problem."""
    raw = parse_yaml(text, str(path))
    base = path.parent

    def read_file(name: str) -> str:
        target = Path(name).expanduser()
        target = target if target.is_absolute() else base / target
        if seen is not None:
            seen.append(target)
        return target.read_text(encoding="utf-8")

    return parse_config(raw, env=env, read_file=read_file)


def readable_secrets(path: Path, config: Config) -> str | None:
    """A warning when ``path`` holds literal secrets and group or others can read it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & 0o044:
        return None
    where = [
        f"providers[{i}].api_key"
        for i, p in enumerate(config.providers)
        if p.key_source == "literal" and p.api_key and len(p.api_key) >= MIN_SECRET
    ]
    if config.listen.access.token_source == "literal":
        where.append("listen.token")
    where += [
        f"listen.tokens[{i}].token" for i, entry in enumerate(config.listen.access.clients) if entry.source == "literal"
    ]
    if not where:
        return None
    return (
        f"{path} holds literal secrets ({', '.join(where)}) and other users can read it: chmod 600 {path}, "
        "or move the secrets to ${ENV}, api_key_file or credential"
    )


def parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(yaml_problem(source, text, exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: invalid YAML: {type(exc).__name__}"]) from None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which PyYAML would silently overwrite."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (the later one would silently win)",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

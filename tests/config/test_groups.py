"""The groups and failover sections: what they build, and every mistake named with its path."""

from __future__ import annotations

from typing import Any

import pytest

from proxyd.config.settings import ConfigError, Cooldown, Failover, GroupTarget
from tests.conftest import make_config

PROVIDERS = [
    {"name": "ollama", "base_url": "http://127.0.0.1:11434/v1", "models": [{"id": "qwen3", "alias": "fast"}]},
    {"name": "openrouter", "base_url": "https://openrouter.ai/api/v1"},
]


def config(groups: Any, **top: Any) -> Any:
    return make_config({"providers": PROVIDERS, "groups": groups, **top})


def test_a_group_with_defaults_overrides_and_weights() -> None:
    loaded = config(
        [
            {"alias": "main", "targets": ["ollama/qwen3", "openrouter/qwen/qwen3-32b"]},
            {"alias": "spread", "strategy": "weighted", "retries": 0, "cooldown": {"base_s": 1},
             "targets": [{"target": "ollama/qwen3", "weight": 3}, "openrouter/qwen/qwen3-32b"]},
        ],
        failover={"deadline_s": 20, "cooldown": {"failures": 5}},
    )  # fmt: skip
    main, spread = loaded.groups
    assert main.targets == (GroupTarget("ollama", "qwen3"), GroupTarget("openrouter", "qwen/qwen3-32b"))
    assert main.failover == Failover(deadline_s=20, cooldown=Cooldown(failures=5))
    assert spread.failover == Failover(retries=0, deadline_s=20, cooldown=Cooldown(failures=5, base_s=1))
    assert [t.weight for t in spread.targets] == [3.0, 1.0]


@pytest.mark.parametrize(
    ("groups", "error"),
    [
        ({"alias": "main"}, "groups: must be a list"),
        ([{"targets": ["ollama/qwen3"]}], "groups[0].alias: must be the model name"),
        ([{"alias": "main", "targets": []}], "groups[0].targets: must be a list of one or more targets"),
        ([{"alias": "main", "targets": ["lmstudio/x"]}], "groups[0].targets[0]: 'lmstudio/x' is not provider/model"),
        ([{"alias": "main", "targets": ["qwen3"]}], "groups[0].targets[0]: 'qwen3' is not provider/model"),
        ([{"alias": "main", "targets": ["main"]}], "groups[0].targets[0]: a group cannot include itself"),
        ([{"alias": "a", "targets": ["b"]}, {"alias": "b", "targets": ["ollama/qwen3"]}],
         "groups[0].targets[0]: a group cannot include the group 'b'"),
        ([{"alias": "main", "targets": [{"target": "ollama/qwen3", "weight": 2}]}],
         "groups[0].targets[0].weight: weights apply to strategy: weighted, and this group is ordered"),
        ([{"alias": "main", "strategy": "random", "targets": ["ollama/qwen3"]}], "groups[0].strategy: must be one of"),
        ([{"alias": "main", "targets": ["ollama/qwen3", "ollama/qwen3"]}], "groups[0].targets[1]: 'ollama/qwen3' is listed twice"),
        ([{"alias": "main", "targets": ["ollama/qwen3"]}] * 2, "groups[1].alias: 'main' names an earlier group too"),
        ([{"alias": "fast", "targets": ["ollama/qwen3"]}], "groups[0].alias: 'fast' is already a model alias in ollama"),
        ([{"alias": "main", "retries": 99, "targets": ["ollama/qwen3"]}], "groups[0].retries: must be a whole number"),
        ([{"alias": "main", "retry": 1, "targets": ["ollama/qwen3"]}], "groups[0].retry: unknown key (did you mean 'retries'?)"),
        ([{"alias": "main", "targets": ["ollama/qwen3"], "cooldown": {"base": 1}}], "groups[0].cooldown.base: unknown key"),
    ],
)  # fmt: skip
def test_mistakes_are_named_with_their_path(groups: Any, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(groups)
    assert any(line.startswith(error) for line in caught.value.errors), caught.value.errors


def test_failover_defaults_are_checked_too() -> None:
    with pytest.raises(ConfigError) as caught:
        config([], failover={"deadline_s": -1, "cooldown": {"failures": 0}})
    assert caught.value.errors == [
        "failover.cooldown.failures: must be a whole number from 1 to 1000",
        "failover.deadline_s: must be a number of at least 0.001",
    ]

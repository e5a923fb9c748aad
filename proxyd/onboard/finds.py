"""What ``proxyd init`` looks for, and what it found (pure).

Local servers on their usual ports, and provider keys in the environment. Each finding becomes
one provider entry; keys stay ``${VAR}`` references, never literal values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# (name, port, wire) of the servers people run on their own machine, on their usual ports.
LOCAL_SERVERS: tuple[tuple[str, int, str], ...] = (
    ("ollama", 11434, "auto"),
    ("lmstudio", 1234, "chat"),
    ("llamacpp", 8080, "auto"),
    ("vllm", 8000, "auto"),
    ("litellm", 4000, "chat"),
    ("jan", 1337, "chat"),
    ("textgen", 5000, "chat"),
)
# (environment variable, provider name, base URL) of the hosted services proxyd knows.
KEYED_SERVICES: tuple[tuple[str, str, str], ...] = (
    ("OPENAI_API_KEY", "openai", "https://api.openai.com/v1"),
    ("ANTHROPIC_API_KEY", "anthropic", "https://api.anthropic.com/v1"),
    ("OPENROUTER_API_KEY", "openrouter", "https://openrouter.ai/api/v1"),
    ("GROQ_API_KEY", "groq", "https://api.groq.com/openai/v1"),
    ("DEEPSEEK_API_KEY", "deepseek", "https://api.deepseek.com/v1"),
    ("MISTRAL_API_KEY", "mistral", "https://api.mistral.ai/v1"),
    ("TOGETHER_API_KEY", "together", "https://api.together.xyz/v1"),
    ("FIREWORKS_API_KEY", "fireworks", "https://api.fireworks.ai/inference/v1"),
    ("CEREBRAS_API_KEY", "cerebras", "https://api.cerebras.ai/v1"),
    ("XAI_API_KEY", "xai", "https://api.x.ai/v1"),
    ("GEMINI_API_KEY", "gemini", "https://generativelanguage.googleapis.com/v1beta/openai"),
)


@dataclass
class Found:
    """One provider ``init`` can write: a local server that answered, or a key in the environment."""

    name: str
    base_url: str
    wire: str = "auto"
    key_env: str | None = None  # written as api_key: ${VAR}
    models: list[str] = field(default_factory=list)  # what its GET /models listed (local servers)
    local: bool = False

    def describe(self) -> str:
        where = (
            f"{self.base_url} ({len(self.models)} model{'' if len(self.models) == 1 else 's'})"
            if self.local
            else f"{self.base_url}, key in ${self.key_env}"
        )
        return f"{self.name}: {where}"


def keys_in(env: dict[str, str]) -> list[Found]:
    """The hosted services whose key the environment holds (a set, non-empty variable)."""
    return [Found(name, url, key_env=var) for var, name, url in KEYED_SERVICES if env.get(var, "").strip()]

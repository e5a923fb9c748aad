"""LiteLLM's proxy for the comparison: installed on first use into ``bench/.litellm-VERSION``
(its own venv, never the project's), configured with one model on the same mock upstream.

The version is pinned: the comparison in ``bench/results.md`` names it. LiteLLM refuses to
start without a master key since 1.8x; the bench gives it one, and the load driver sends it
with every request, to every target (proxyd without a listen token and the passthrough drop a
client's Authorization header, the mock ignores it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.load import CLIENT_KEY

VERSION = "1.108.7"
VENV = Path(__file__).resolve().parent / f".litellm-{VERSION}"


def command(workdir: Path, mock_port: int) -> list[str]:
    """The command line that starts LiteLLM's proxy (``--port`` is added by the runner)."""
    binary = VENV / "bin" / "litellm"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={VERSION}"]
        subprocess.run(pip, check=True, timeout=1200)
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: bench-model\n"
        "    litellm_params:\n"
        "      model: openai/bench-model\n"
        # The mock serves chat only, as proxyd's chat providers do: Responses requests are
        # translated, as proxyd translates them (LiteLLM would send them to /responses).
        "      use_chat_completions_api: true\n"
        f"      api_base: http://127.0.0.1:{mock_port}/v1\n"
        "      api_key: bench-key\n"
        "litellm_settings: {drop_params: true}\n"
        f"general_settings: {{master_key: {CLIENT_KEY}}}\n"
        # One failed answer must not put the only deployment in cooldown (429s for what follows).
        "router_settings: {disable_cooldowns: true}\n"
    )
    return [str(binary), "--config", str(config), "--host", "127.0.0.1", "--num_workers", "1"]

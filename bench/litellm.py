"""LiteLLM's proxy for the comparison: installed on first use into ``bench/.litellm`` (its own
venv, never the project's), configured with one model on the same mock upstream."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent / ".litellm"


def command(workdir: Path, mock_port: int) -> list[str]:
    """The command line that starts LiteLLM's proxy (``--port`` is added by the runner)."""
    binary = VENV / "bin" / "litellm"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"]
        subprocess.run(pip, check=True, timeout=1200)
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: bench-model\n"
        "    litellm_params:\n"
        "      model: openai/bench-model\n"
        f"      api_base: http://127.0.0.1:{mock_port}/v1\n"
        "      api_key: bench-key\n"
        "litellm_settings: {drop_params: true}\n"
    )
    return [str(binary), "--config", str(config), "--host", "127.0.0.1", "--num_workers", "1"]

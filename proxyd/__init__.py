"""proxyd: a local reverse proxy for LLM APIs.

Requests flow one way: app (limits, target checks) → routing → upstream → relay.
Pure modules (config, yamlcheck, routing, catalog, headers, jsonbody, sse, streamcheck, errors)
import no aiohttp, structlog or prometheus_client; ``tests/test_layering.py`` enforces it.
"""

from __future__ import annotations

__version__ = "0.1.0"

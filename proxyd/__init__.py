"""proxyd: a local reverse proxy for LLM APIs.

Requests flow one way: protocol → guard → app (intake) → routing → forward (client wire, provider
wire, the pivot between them: ``wires/``) → upstream → relay → observe. Modules that say
``(pure)``, and all of ``wires/``, do no I/O; ``tests/test_layering.py`` enforces it.
``docs/development.md`` is the map.
"""

from __future__ import annotations

__version__ = "0.1.0"

from __future__ import annotations

from proxyd.cli import main

raise SystemExit(main())

"""``python -m clients``: see :mod:`clients.matrix`."""

from __future__ import annotations

import sys

from clients.matrix import main

sys.exit(main())

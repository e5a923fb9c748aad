"""A backup of a file about to be replaced, never written over another backup."""

from __future__ import annotations

import itertools
import os
import shutil
import time
from pathlib import Path


def keep_backup(path: Path) -> Path:
    """Copy ``path`` to ``NAME.bak-YYYYMMDD-HHMMSS`` (``-2``, ``-3``... when that one exists: two
    writes in one second must not lose the user's original under proxyd's first write)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in itertools.count(1):
        target = path.with_name(f"{path.name}.bak-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as out:
            out.write(path.read_bytes())
        shutil.copymode(path, target)
        return target
    raise AssertionError("unreachable")

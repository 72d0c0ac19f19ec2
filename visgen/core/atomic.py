"""Files written whole or not at all."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def replace_atomically(out, write: Callable[[str], None]) -> None:
    """``write(tmp)`` to a temporary file beside ``out``, then rename it to ``out`` in one step:
    a failure or a second process leaves the old file (or none), never half of one. Whatever
    ``write`` or the rename raises is raised again, the temporary file removed."""
    out = Path(out)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, out)
    finally:
        try:
            os.unlink(tmp)  # gone already once renamed
        except OSError:
            pass

"""A run folder written as one transaction: a kill at any moment leaves the old run or the new.

``visgen train --out DIR`` never writes into ``DIR`` while it trains. It writes a
staging folder beside it, ``.DIR.partial-PID`` (same file system, hidden), and
when the run has a consistent set of files (finished, diverged, failed or
interrupted, each with its checkpoint and ``summary.json``) puts it in place in
one step:

* ``DIR`` absent (or an empty folder): a rename;
* ``DIR`` holding an earlier run, with ``overwrite``: the two folders are
  swapped atomically (Linux ``renameat2(RENAME_EXCHANGE)``), then the old one is
  deleted. Where that call is missing, two renames, with a moment between them in
  which ``DIR`` is absent and the old run sits in ``.DIR.old-PID``.

So a ``kill -9`` leaves ``DIR`` as it was plus a staging folder that the next
``visgen train`` into ``DIR`` deletes (its process is gone). Without
``overwrite`` an earlier run is never replaced, and a folder holding anything
but a run is never touched.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
from pathlib import Path

from .errors import VisgenError

CONFIG = "config.json"  # what makes a folder a run folder (see runfiles)


class RunFolder:
    """Stage a run beside ``out``; ``commit`` puts it in place, ``abort`` removes it."""

    def __init__(self, out, overwrite: bool = False):
        self.out = Path(out)
        self.overwrite = overwrite
        self.staging = self.out.parent / f".{self.out.name}.partial-{os.getpid()}"
        self.committed = False

    def check(self) -> None:
        """Raise VisgenError (one line naming ``out``) if ``out`` cannot take this run: a
        file, a folder of other files, an earlier run without ``overwrite``, a parent that is
        a file. Cheap: call it before the work, ``begin`` again after."""
        out = self.out
        if out.name in ("", ".", ".."):
            raise VisgenError(f"--out {out}: name a run folder, not {str(out)!r}")
        if out.is_symlink():  # swapping would replace the link, not the folder it names
            raise VisgenError(f"--out {out}: is a link; name the folder itself ({os.path.realpath(out)})")
        if out.exists() and not out.is_dir():
            raise VisgenError(f"--out {out}: is a file, not a folder")
        if out.is_dir():
            entries = _entries(out)
            if (out / CONFIG).is_file() and not self.overwrite:
                raise VisgenError(f"--out {out}: holds an earlier run; choose another folder, or add "
                                  f"--overwrite to replace it once the new run is complete")
            if entries and not (out / CONFIG).is_file():
                raise VisgenError(f"--out {out}: is a folder of other files ({', '.join(sorted(entries)[:3])}"
                                  f"{', ...' if len(entries) > 3 else ''}); choose a new or empty folder")
        parent = next((p for p in out.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise VisgenError(f"--out {out}: {parent} is a file, not a folder")

    def begin(self) -> Path:
        """``check``, then make the staging folder and return it (VisgenError if it cannot
        be made: a parent that cannot be written)."""
        self.check()
        out = self.out
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            self._sweep()
            self.staging.mkdir()
        except OSError as exc:
            raise VisgenError(f"--out {out}: cannot write there ({_why(exc)})") from None
        return self.staging

    def commit(self) -> None:
        """Put the staged run at ``out`` in one step (see the module docstring)."""
        out, staging = self.out, self.staging
        try:
            if out.is_dir() and not _entries(out):
                out.rmdir()  # an empty folder the learner made for the run
            if not out.exists():
                os.rename(staging, out)
            elif _exchange(staging, out):
                shutil.rmtree(staging, ignore_errors=True)  # it holds the old run now
            else:
                old = out.parent / f".{out.name}.old-{os.getpid()}"
                os.rename(out, old)
                os.rename(staging, out)
                shutil.rmtree(old, ignore_errors=True)
            self.committed = True
        except OSError as exc:
            raise VisgenError(f"--out {out}: could not put the run in place ({_why(exc)}); "
                              f"it is in {staging}") from None

    def abort(self) -> None:
        """Remove the staging folder (before ``commit``: ``out`` stays as it was)."""
        if not self.committed:
            shutil.rmtree(self.staging, ignore_errors=True)

    def _sweep(self) -> None:
        """Delete what killed earlier trainings into ``out`` left beside it."""
        pattern = re.compile(rf"^\.{re.escape(self.out.name)}\.(partial|old)-(\d+)$")
        for entry in self.out.parent.iterdir():
            m = pattern.match(entry.name)
            if m and entry.is_dir() and not _alive(int(m.group(2))):
                shutil.rmtree(entry, ignore_errors=True)


def _entries(folder: Path) -> list:
    try:
        return os.listdir(folder)
    except OSError as exc:
        raise VisgenError(f"--out {folder}: cannot read ({_why(exc)})") from None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux 3.15+, glibc 2.28+); False where not available."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False  # the kernel or the file system cannot: two renames instead
    raise OSError(err, os.strerror(err), str(b))

"""What the operating system says while a loader reads a file, as one line naming the file."""
from __future__ import annotations

import zlib
from contextlib import contextmanager

from ..core.errors import DataError


@contextmanager
def read_errors(path, expected: str):
    """Turn a missing file, a folder where ``expected`` (e.g. "a CSV file") belongs, text that
    is not UTF-8, truncated gzip data or any other read error inside the block into one
    ``DataError`` naming ``path``."""
    try:
        yield
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected {expected}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except EOFError:
        raise DataError(f"{path}: gzip data is truncated") from None
    except (OSError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None

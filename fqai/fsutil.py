"""File-system helpers: atomic writes with explicit modes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_writer(path: Path, mode: int = 0o644) -> Iterator[IO[bytes]]:
    """Open a temporary file next to ``path``; rename it over ``path`` only on success.

    The handle's ``name`` is the temporary path. The file is created with ``mode`` before any
    byte is written (``mkstemp`` creates it 0600), flushed and fsynced
    before the rename. If the body raises, the temporary file is removed and ``path`` is left as
    it was, so a reader never sees a half-written file.

    Parameters
    ----------
    path
        Final location.
    mode
        Permission bits of the final file.
    """
    path = Path(path)
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp_path = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        os.close(fd)
        with tmp_path.open("r+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically with permission bits ``mode``."""
    with atomic_writer(path, mode) as handle:
        handle.write(data)

"""Write a file whole or not at all: a temporary file beside it, renamed over it on success.

A failed or interrupted write (a full disk, an encoder error, Ctrl-C) leaves the destination as it
was (absent, or its old content) and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

# mkstemp makes files only their owner can read; the written file gets a plain file's mode instead.
# (The umask is read once, at import: reading it means setting it, for a moment.)
_UMASK = os.umask(0o022)
os.umask(_UMASK)

@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder, with the same suffix (writers that choose the
    format by the name still do); on a clean exit it replaces ``path``, on an error it is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        tmp_path.chmod(0o666 & ~_UMASK)
        yield tmp_path
        os.replace(tmp_path, path)  # atomic within one file system, which the same folder is
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")

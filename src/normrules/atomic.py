"""Writing output files atomically: into a temporary file beside the target, then a rename.

A reader of the target sees either the old file or the complete new one, never a half-written
file: the rename (``os.replace``) is atomic on one file system. When writing fails — an exception,
Ctrl-C (SIGINT) or SIGTERM — the temporary file is removed and the target is left as it was. Only
SIGKILL (which no process can catch) leaves the temporary file behind; it is hidden
(``.<name>.<random>.tmp``) and never takes the target's name.

    with atomic_path(Path("out.parquet")) as tmp:
        pq.write_table(table, tmp)

    write_text_atomic(Path("report.md"), text)
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives while an atomic write is under way."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated(128 + signum)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into an exception (so ``finally`` blocks run) for the duration; main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _mode_for(path: Path) -> int:
    """The permissions a plain ``open(path, "w")`` would leave: the old file's, else 0666 less the umask
    (``mkstemp`` creates its file readable by its owner only)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield the name of a new temporary file beside ``path``; when the block ends normally, rename
    it to ``path`` (replacing what was there); when it raises (SIGINT and SIGTERM included), delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _sigterm_raises():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            os.chmod(tmp, _mode_for(path))
            yield tmp
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def write_atomic(path: str | os.PathLike, writer: Callable[[str], None]) -> None:
    """Call ``writer(temporary_path)`` and rename the result to ``path`` (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        writer(tmp)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 (newlines as given, untranslated) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(text.encode("utf-8"))


__all__ = ["atomic_path", "write_atomic", "write_text_atomic", "Terminated"]

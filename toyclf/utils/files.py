"""Writing files safely: an output folder checked before the work starts, and atomic writes."""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def ensure_writable_dir(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and check that files can be written there, or raise ``OSError``."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OSError(f"cannot write into the folder {str(folder)!r}: {error.strerror or error}") from None
    return folder


def _process_is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def remove_stale_temporaries(path: Path, suffix: str) -> list[Path]:
    """Delete the temporary files of :func:`atomic_write` for ``path`` that a process killed while
    writing left behind (``.NAME.PID.*SUFFIX`` whose process is gone); returns them."""
    stale = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*{suffix}"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_is_running(int(pid)):
            tmp.unlink(missing_ok=True)
            stale.append(tmp)
    return stale


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object], *, suffix: str = ".tmp") -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` (named ``*suffix``: some writers
    take the format from it), then rename it to ``path``.

    A run interrupted while writing leaves the old file (or none), never a truncated one: an
    exception (Ctrl-C included) removes the temporary file. A process killed outright (SIGKILL,
    or SIGTERM outside toyclf's commands, which turn it into an interruption) cannot clean up:
    its temporary file (``.NAME.PID.XXXX.tmp``) is removed by the next write of ``path``.
    """
    path = Path(path)
    remove_stale_temporaries(path, suffix)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.{os.getpid()}.", suffix=suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the permissions a plain open() would have given
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

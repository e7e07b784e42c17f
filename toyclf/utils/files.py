"""Writing files safely: an output folder checked before the work starts, and atomic writes of a
file or a whole folder."""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
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


def _writer_tag() -> str:
    """This host and process, as a temporary file's name carries them: ``HOST-PID``."""
    return f"{re.sub(r'[^A-Za-z0-9]+', '-', socket.gethostname())}-{os.getpid()}"


def remove_stale_temporaries(path: Path, suffix: str) -> list[Path]:
    """Delete the temporary files (or folders) of :func:`atomic_write` (:func:`atomic_folder`) for ``path`` that a process of this host
    killed while writing left behind (``.NAME.HOST-PID.XXXX{suffix}`` whose process is gone);
    returns them. Other hosts' (a shared file system) and live processes' are left alone."""
    host = _writer_tag().rsplit("-", 1)[0]
    pattern = re.compile(rf"\.{re.escape(path.name)}\.{re.escape(host)}-(\d+)\.[^.]+{re.escape(suffix)}")
    stale = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*{glob.escape(suffix)}"):
        match = pattern.fullmatch(tmp.name)
        if match and int(match[1]) != os.getpid() and not _process_is_running(int(match[1])):
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
            stale.append(tmp)
    return stale


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object], *, suffix: str = ".tmp") -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` (named ``*suffix``: some writers
    take the format from it), then rename it to ``path``.

    A run interrupted while writing leaves the old file (or none), never a truncated one: an
    exception (Ctrl-C included) removes the temporary file. A process killed outright (SIGKILL,
    or SIGTERM outside toyclf's commands, which turn it into an interruption) cannot clean up:
    its temporary file (``.NAME.HOST-PID.XXXX.tmp``) is removed by the next write of ``path``.
    """
    path = Path(path)
    remove_stale_temporaries(path, suffix)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.{_writer_tag()}.", suffix=suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # the permissions a plain open() would have given
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def check_replaceable(path: str | os.PathLike, is_output: Callable[[Path], bool], what: str) -> Path:
    """``path`` as a folder :func:`atomic_folder` may write: new, empty, or a folder ``is_output``
    recognises as ``what`` (an earlier run's); anything else raises ``ValueError`` (a user's
    folder is never replaced)."""
    path = Path(path)
    if path.exists() and not (path.is_dir() and (not any(path.iterdir()) or is_output(path))):
        kind = "a folder that is not" if path.is_dir() else "a file, not"
        raise ValueError(f"{str(path)!r} is {kind} {what}: give a new or empty folder (nothing was replaced).")
    return path


def atomic_folder(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a new temporary folder beside ``path``, then put it in ``path``'s
    place (the old folder, if any, is removed only once the new one is there). A run stopped
    part way leaves the old folder (or none), never half of the new one; a killed run's
    temporary folder is removed by the next write of ``path``. Check ``path`` with
    :func:`check_replaceable` first."""
    path, suffix = Path(path), ".tmpdir"
    remove_stale_temporaries(path, suffix)
    tmp = Path(tempfile.mkdtemp(dir=path.parent or ".", prefix=f".{path.name}.{_writer_tag()}.", suffix=suffix))
    old = tmp.with_name(tmp.name.replace(suffix, ".old" + suffix))
    try:
        tmp.chmod(0o777 & ~_umask())  # the permissions a plain mkdir would have given
        write(tmp)
        if path.exists():
            path.rename(old)
        try:
            tmp.rename(path)
        except BaseException:
            if old.exists():
                old.rename(path)  # put the old folder back
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return path

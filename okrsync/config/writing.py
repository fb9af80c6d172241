"""Writing a config file in place without ever losing it (``okrsync cycle next``): a temporary file
beside it, fsynced, moved over it with ``os.replace`` (the file's mode, owner where allowed, symlinks
kept), then the folder fsynced; a kill at any moment leaves the old file or the new one."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from okrsync.errors import ConfigEditError


def check_writable(path: Path) -> Path:
    """The real file behind ``path`` (a symlink is followed, so the link stays a link). Raises
    ConfigEditError when the file or its folder is read-only: for this process, or for everyone (no write
    bit at all, which a root user is held to as well)."""
    target = Path(os.path.realpath(path))
    places = (
        (target, os.W_OK, "the file is read-only"),
        (target.parent, os.W_OK | os.X_OK, "its folder is read-only (the new text is written beside the file)"),
    )
    for where, access, why in places:
        try:
            mode = os.stat(where).st_mode
        except OSError as exc:
            raise ConfigEditError(f"cannot edit {path}: {exc.strerror}") from None
        if not os.access(where, access) or not mode & 0o222:
            raise ConfigEditError(
                f"cannot edit {path}: {why}; it is unchanged (`cycle next --dry-run` shows the change)"
            )
    return target


def write_config(path: Path, data: bytes, *, expected: bytes) -> None:
    """Replace the file at ``path`` with ``data`` atomically: a kill at any point leaves the old file or the
    new one. The new file is written beside the old (same folder, so same file system), synced, given the
    old file's mode (and owner where allowed), moved over it with ``os.replace`` and the folder synced.
    Refused when the file no longer holds ``expected`` (edited meanwhile). A hard link to the old file
    keeps the old text."""
    target = check_writable(path)
    st = target.stat()
    if target.read_bytes() != expected:
        raise ConfigEditError(f"{path} changed while okrsync edited it: run the command again")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ConfigEditError(f"cannot edit {path}: {exc.strerror}; the file is unchanged") from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), stat.S_IMODE(st.st_mode))
            with contextlib.suppress(OSError):  # only root may give a file away
                os.fchown(file.fileno(), st.st_uid, st.st_gid)
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise ConfigEditError(f"cannot edit {path}: {exc.strerror}; the file is unchanged") from None
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it must not bring the old name back)."""
    with contextlib.suppress(OSError):  # a platform or file system that cannot open or sync a folder
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

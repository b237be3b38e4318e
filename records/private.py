"""Least privilege on disk: the fleet's folders are 0700 and its files 0600.

Every fleet process (the ``fleet`` command, the scheduler, a Celery worker, the
web app) sets its umask to 077 at start (:func:`private_umask`), so whatever it
creates (the SQLite database and its journal, log files, vault files, the
browser's downloads and traces) is readable by its owner alone, whichever
library creates it. :func:`private_dir` also tightens a folder that already
exists (a data dir made 0755 by an older version)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


def private_umask() -> int:
    """Set the process umask to 077; returns the previous one."""
    return os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make it 0700 if this user owns it."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    st = path.stat()
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make an existing file of this user 0600 (a database or log file an older version made)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return path
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != FILE_MODE:
        path.chmod(FILE_MODE)
    return path

"""Where emtlib's files go and how they are written.

One rule for relative paths: a relative data root or results directory is taken from the project
root when emtlib runs from its checkout (the folder holding `pyproject.toml` and `emtlib/`), so a
notebook means the same whatever directory its kernel starts in; from an installed package it is
taken from the current working directory. Every file emtlib writes (records, checkpoints, data
files) goes through `atomic_write`: a temporary file in the same folder, flushed to disk, then
renamed into place, so an interrupted write never leaves a half-written file under the real name.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

_PACKAGE_DIR = Path(__file__).resolve().parent
RESULTS_DIR = "results"
"""Default folder of run records, checkpoints and figures (relative: from `project_root()`)."""
DATA_DIR = "data"
"""Default data folder: user pickles, the cached stand-in (relative: from `project_root()`)."""


def project_root() -> Path:
    """The checkout emtlib runs from, or the current working directory for an installed package."""
    checkout = _PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout
    return Path.cwd()


def resolve(path: str | os.PathLike) -> Path:
    """`path` itself when absolute (after `~` expansion), else taken from `project_root()`."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p


def portable(path: str | os.PathLike) -> str:
    """`path` as a record stores it: relative to the project root when it lies inside it (so a
    record says the same on every machine), absolute otherwise (the user's own files)."""
    p = Path(path).resolve()
    try:
        return p.relative_to(project_root().resolve()).as_posix()
    except ValueError:
        return str(p)


def git_commit() -> str | None:
    """The commit of the checkout emtlib runs from ('<sha>-dirty' with uncommitted changes to
    tracked files), or None outside a git checkout."""
    checkout = _PACKAGE_DIR.parent
    if not (checkout / ".git").exists():
        return None
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=checkout, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def writable_dir(path: str | os.PathLike, what: str = "results directory") -> Path:
    """`path` resolved, refused before any work when it names a file, or when neither it nor the
    folders that would be created for it can be written."""
    p = resolve(path)
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(f"{what} {p} is a file: name a folder (it is created if absent)")
    q = p
    while not q.exists():
        q = q.parent
    if not os.access(q, os.W_OK | os.X_OK):
        raise PermissionError(f"{what} {p}: {q} cannot be written; choose a writable place")
    return p


def data_dir() -> Path:
    """The default data folder, resolved: `<project root>/data`."""
    return resolve(DATA_DIR)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Create or replace `path` with what `write(f)` writes to a binary file, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path

"""Runs claimed exactly once: a worker holds a claim on a run while it trains it.

A claim is an exclusive `flock` on `<record>.claim`, next to the run's record, held by the
training process for as long as it trains; the file says who holds it (host, pid, start time).
The lock is the lease: the operating system ends it when the process ends, however it ends
(`kill -9`, a node lost from an NFSv4 server when its lease runs out), so a claim left by a dead
worker is free at once and the next worker takes the run over. Workers on several machines need a
shared file system whose locks span them (local disks, NFSv4, Lustre mounted with `-o flock`,
GPFS, BeeGFS); docs/training.md#running-grids says more.

    with claim(path) as held:
        if held:   # this process trains the run; others skip it or wait
            ...

The claim file stays behind after its run (it is tiny, and removing it would race with a worker
opening it); a record on disk, not the claim, says a run is done.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path


def claim_path(record: Path) -> Path:
    """Where the claim of the run recorded at `record` lives."""
    return record.with_name(record.name + ".claim")


@contextmanager
def claim(record: Path):
    """Try to claim the run recorded at `record` without waiting; yields True when this process
    holds the claim (released on exit), False when a live worker holds it."""
    path = claim_path(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        info = json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def holder(record: Path) -> dict | None:
    """Who holds the claim on the run recorded at `record` ({host, pid, started}), or None when
    no live worker does."""
    path = claim_path(record)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(path.read_text() or "{}")
            except (json.JSONDecodeError, OSError):
                return {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)

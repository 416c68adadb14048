"""Stopping background processes safely: by pid, checked, terminate then kill, reaped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process. Reaps it if it is our exited child."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has exited; return whether it did within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid):
            return True
        time.sleep(0.05)
    return not is_running(pid)


def stop_process_group(pid: int, timeout: float = 10.0) -> None:
    """Send SIGTERM to the process group led by ``pid``, then SIGKILL if it has not exited.

    The daemons fqai starts lead their own session (``start_new_session=True``), so the group
    holds exactly the daemon and any helpers it spawned.
    """
    if not is_running(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    if wait_exit(pid, timeout):
        _kill_leftovers(pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    wait_exit(pid, 5.0)


def _kill_leftovers(pgid: int) -> None:
    """After the leader exited, kill any member of its group still alive."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def stop_child(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a child started with ``start_new_session=True`` and reap it."""
    if process.poll() is None:
        stop_process_group(process.pid, timeout)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - stop_process_group killed it
        process.kill()
        process.wait()


def has_environment(pid: int, *entries: str) -> bool:
    """Whether ``pid`` is live and its environment holds every ``NAME=value`` in ``entries``.

    Devnet services carry a marker variable, so a recorded pid that the OS has since reused for
    another program is never signalled.
    """
    if not is_running(pid):
        return False
    try:
        environ = set(Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
    except OSError:
        return False
    return all(entry.encode() in environ for entry in entries)

"""Child processes that stop in order: Ctrl-C reaches only the parent, and a parent that dies
(even by kill -9) takes its children with it (Linux PR_SET_PDEATHSIG)."""

from __future__ import annotations

import ctypes
import signal
import sys
from typing import Any

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_options() -> dict[str, Any]:
    """Popen keyword arguments: a session of its own (a terminal's Ctrl-C goes to the parent,
    which stops its children in order, broker last), and SIGTERM when the parent dies.

    Linux sends the death signal when the *thread* that started the child ends: start children
    from a thread that lives as long as they should (the main thread, in our commands)."""
    return {"start_new_session": True, "preexec_fn": _die_with_parent}

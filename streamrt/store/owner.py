"""Who holds a lease: owner names of the form ``host:pid:nonce``, and whether such an owner is gone."""

from __future__ import annotations

import os
import socket
import time
import uuid

__all__ = ["dead_local_owner", "lease_time", "owner_name"]


def owner_name() -> str:
    """A name for this process's leases: its host and pid (so a dead owner can be recognised) and a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def dead_local_owner(owner: str) -> bool:
    """Whether ``owner`` names a process of this host (``host:pid:nonce``) that does not exist any more."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def lease_time(ts: float) -> str:
    """A lease's expiry for messages, in local time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))

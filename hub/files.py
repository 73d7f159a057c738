"""Writing files that hold secrets: never readable by others, never half-written."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: str | bytes) -> None:
    """Write text or bytes to path with mode 0600 from the first byte, atomically (temp file +
    rename): a power cut leaves the old file or the new one, never an empty or partial one."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_private(path: Path) -> str | None:
    """The file's text, or None when it is missing or empty (an empty secret is no secret)."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return text or None

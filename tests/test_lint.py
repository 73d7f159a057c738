"""ruff on the tree and mypy (strict) on the pure domain core, as configured in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_is_clean() -> None:
    out = subprocess.run([str(BIN / "ruff"), "check", "--output-format", "concise", "."], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_on_the_domain_core() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_domain_core_imports_no_adapter_library() -> None:
    """DESIGN: the core imports no Flask, paho, serial, evdev, escpos, zeroconf, apscheduler or sqlite."""
    forbidden = ("flask", "paho", "serial", "evdev", "escpos", "zeroconf", "apscheduler", "sqlite3", "sqlite_utils")
    for path in (ROOT / "hub" / "domain").glob("*.py"):
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in forbidden, f"{path.name}: {line.strip()}"


def test_drivers_import_nothing_from_the_hub() -> None:
    for path in (ROOT / "devices").rglob("*.py"):
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] != "hub", f"{path.relative_to(ROOT)}: {line.strip()}"

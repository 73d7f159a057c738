"""Printer profiles: what a printer model speaks and can do, read from firmware_configs/printers.

One YAML file per model; its file name without .yaml is the profile's name (`epson-tm-t20iii`).
Pure: it reads files and checks them, and opens no printer. Drivers pick the language, the
columns, the cut and the drawer pin from a profile instead of hard-coding one model.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = ("receipt_printer", "label_printer")
LANGUAGES = ("escpos", "zpl", "tspl", "brother_ql")
CONNECTIONS = ("usb", "network", "serial", "bluetooth")
CUTS = ("full", "partial", "none")
DRAWER_PINS = (2, 5)

# A checkout keeps them in firmware_configs/printers; install.sh puts them next to the venv
# (/opt/backroom/printers beside /opt/backroom/venv).
_CHECKOUT_DIR = Path(__file__).resolve().parents[2] / "firmware_configs" / "printers"


def default_dirs() -> list[Path]:
    """Where profiles are looked for when no directory is given, first match wins."""
    return [_CHECKOUT_DIR, Path(sys.prefix).parent / "printers"]


class ProfileError(ValueError):
    """A printer profile file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class PrinterProfile:
    """One printer model. Label sizes in mm; label_height_mm None is a continuous roll."""

    name: str
    model: str
    manufacturer: str
    kind: str
    language: str
    connections: tuple[str, ...]
    dpi: int
    status_queries: bool
    cut: str
    columns: int | None = None
    escpos_profile: str | None = None
    drawer_pin: int | None = None
    codepage: str | None = None
    label_width_mm: int | None = None
    label_height_mm: int | None = None
    options: dict[str, str] = field(default_factory=dict)


_REQUIRED = (
    "model",
    "manufacturer",
    "kind",
    "language",
    "connections",
    "dpi",
    "status_queries",
    "cut",
)
_OPTIONAL = (
    "columns", "escpos_profile", "drawer_pin", "codepage", "label_width_mm", "label_height_mm", "options",
)  # fmt: skip


def _positive_int(where: str, key: str, value: Any, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ProfileError(f"{where}: {key} must be a whole number above 0, got {value!r}")
    return value


def _one_of(where: str, key: str, value: Any, allowed: tuple[Any, ...]) -> Any:
    if value not in allowed:
        choices = ", ".join(str(a) for a in allowed)
        raise ProfileError(f"{where}: {key} is {value!r}; use one of {choices}")
    return value


def parse_profile(name: str, data: Any, where: str) -> PrinterProfile:
    """Check one profile's mapping; where names its file in messages."""
    if not isinstance(data, dict):
        raise ProfileError(
            f"{where}: a profile must be a mapping of keys, got {type(data).__name__}"
        )
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ProfileError(
            f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(_REQUIRED + _OPTIONAL)}"
        )
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ProfileError(
            f"{where}: {missing[0]} is missing; every profile sets {', '.join(_REQUIRED)}"
        )
    for key in ("model", "manufacturer"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise ProfileError(f"{where}: {key} must be a non-empty text, got {data[key]!r}")
    kind = _one_of(where, "kind", data["kind"], KINDS)
    language = _one_of(where, "language", data["language"], LANGUAGES)
    connections = data["connections"]
    if not isinstance(connections, list) or not connections:
        raise ProfileError(
            f"{where}: connections must be a list such as [usb, network], got {connections!r}"
        )
    for c in connections:
        _one_of(where, "connections", c, CONNECTIONS)
    if not isinstance(data["status_queries"], bool):
        raise ProfileError(
            f"{where}: status_queries must be true or false, got {data['status_queries']!r}"
        )
    codepage = data.get("codepage")
    if codepage is not None and not isinstance(codepage, str):
        raise ProfileError(
            f"{where}: codepage must be a name such as cp437, or null, got {codepage!r}"
        )
    options = data.get("options") or {}
    if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
        raise ProfileError(f"{where}: options must map names to quoted text, got {options!r}")
    profile = PrinterProfile(
        name=name,
        model=data["model"],
        manufacturer=data["manufacturer"],
        kind=kind,
        language=language,
        connections=tuple(connections),
        dpi=_positive_int(where, "dpi", data["dpi"]) or 0,
        status_queries=data["status_queries"],
        cut=_one_of(where, "cut", data["cut"], CUTS),
        columns=_positive_int(where, "columns", data.get("columns"), allow_none=True),
        escpos_profile=data.get("escpos_profile"),
        drawer_pin=data.get("drawer_pin"),
        codepage=codepage,
        label_width_mm=_positive_int(
            where, "label_width_mm", data.get("label_width_mm"), allow_none=True
        ),
        label_height_mm=_positive_int(
            where, "label_height_mm", data.get("label_height_mm"), allow_none=True
        ),
        options={str(k): v for k, v in options.items()},
    )
    if kind == "label_printer" and "label_height_mm" not in data:
        raise ProfileError(
            f"{where}: label_height_mm is missing; give the label height in mm, or null for a continuous roll"
        )
    _check_kind(profile, where)
    return profile


def _check_kind(p: PrinterProfile, where: str) -> None:
    """The keys a kind and a language need, and the ones that make no sense for it."""
    if p.escpos_profile is not None and not isinstance(p.escpos_profile, str):
        raise ProfileError(
            f"{where}: escpos_profile must be a python-escpos profile name such as TM-T20II, "
            f"or null when python-escpos has none; got {p.escpos_profile!r}"
        )
    if p.escpos_profile is not None and p.language != "escpos":
        raise ProfileError(f"{where}: escpos_profile is only for language escpos; set it to null")
    if p.drawer_pin is not None:
        _one_of(where, "drawer_pin", p.drawer_pin, DRAWER_PINS)
    if p.kind == "receipt_printer":
        if p.columns is None:
            raise ProfileError(
                f"{where}: columns is missing; a receipt printer needs its characters per line in font A"
            )
        if p.language != "escpos":
            raise ProfileError(
                f"{where}: language {p.language!r} is not a receipt language; use escpos"
            )
        if p.label_width_mm is not None or p.label_height_mm is not None:
            raise ProfileError(
                f"{where}: label_width_mm and label_height_mm are for label printers only"
            )
    else:
        if p.label_width_mm is None:
            raise ProfileError(
                f"{where}: label_width_mm is missing; a label printer needs its label width in mm"
            )
        if p.columns is not None or p.drawer_pin is not None:
            raise ProfileError(f"{where}: columns and drawer_pin are for receipt printers only")
    if p.language == "brother_ql" and not {"model", "label"} <= set(p.options):
        raise ProfileError(
            f"{where}: options needs model and label for brother_ql, e.g. {{model: QL-800, label: '62'}}"
        )


def load_file(path: Path) -> PrinterProfile:
    """One profile file; ProfileError names the file when it is not valid YAML or not a profile."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: is not valid YAML: {exc}") from exc
    return parse_profile(path.stem, data, str(path))


def load_profiles(directory: Path | None = None) -> dict[str, PrinterProfile]:
    """Every profile in directory (default: the first of default_dirs() that exists), by name."""
    if directory is None:
        found = [d for d in default_dirs() if d.is_dir()]
        if not found:
            where = " or ".join(str(d) for d in default_dirs())
            raise ProfileError(
                f"no printer profiles in {where}; rerun install.sh, which installs them"
            )
        directory = found[0]
    if not directory.is_dir():
        raise ProfileError(f"{directory}: no such directory of printer profiles")
    return {p.stem: load_file(p) for p in sorted(directory.glob("*.yaml"))}


def profile(name: str, directory: Path | None = None) -> PrinterProfile:
    """The profile called name; ProfileError lists the known names when there is none."""
    profiles = load_profiles(directory)
    if name not in profiles:
        raise ProfileError(
            f"no printer profile {name!r}; known profiles: {', '.join(sorted(profiles))}"
        )
    return profiles[name]

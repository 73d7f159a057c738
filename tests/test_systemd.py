"""systemd/: the unit templates and udev rules, checked by systemd's own tools where they exist.

What install.sh does with them (prefix paths, modes, idempotence) is tests/test_install.py's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
SYSTEMD = REPO / "systemd"
UNITS = ("backroom-hub.service", "backroom-devices.service")
RULES = SYSTEMD / "99-backroom.rules"


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


# --- units ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS)
def test_unit_templates_are_hardened_and_wait_for_the_broker(unit: str) -> None:
    s = unit_settings((SYSTEMD / unit).read_text())
    command = "run" if unit == "backroom-hub.service" else "devices"
    assert s["ExecStart"] == [
        f"/opt/backroom/venv/bin/backroom {command} --config /etc/backroom/backroom.toml"
    ]
    expected = {
        "User": "backroom",
        "Group": "backroom",
        "Restart": "on-failure",
        "RestartSec": "2",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "ReadWritePaths": "/var/lib/backroom"
        + (" -/etc/mosquitto/backroom.passwd" if unit == "backroom-hub.service" else ""),
        "StateDirectory": "backroom",
        "WantedBy": "multi-user.target",
    }
    for key, value in expected.items():
        assert s[key] == [value], key
    for key in ("After", "Wants"):
        assert set(s[key][0].split()) == {"network-online.target", "mosquitto.service"}
    assert not any(k.startswith(("StandardOutput", "StandardError", "LogsDirectory")) for k in s)
    # MQTT and HTTP over IP, pyudev's uevents and zeroconf's interface list over netlink.
    assert set(s["RestrictAddressFamilies"][0].split()) == {
        "AF_UNIX",
        "AF_INET",
        "AF_INET6",
        "AF_NETLINK",
    }
    if unit == "backroom-devices.service":
        assert s["SupplementaryGroups"] == ["input dialout lp"]
        # Any device allow-list (ProtectClock= implies one before systemd 253) would shut out
        # the scanners, scales and printers plugged in while the agent runs.
        for key in ("PrivateDevices", "DevicePolicy", "DeviceAllow", "ProtectClock"):
            assert key not in s, key
    else:
        assert "SupplementaryGroups" not in s  # the hub touches no hardware
        assert s["PrivateDevices"] == ["yes"]


def _verify(paths: list[Path]) -> list[str]:
    proc = subprocess.run(
        ["systemd-analyze", "verify", *map(str, paths)], capture_output=True, text=True, timeout=60
    )
    lines = (proc.stdout + proc.stderr).splitlines()
    return [line for line in lines if any(str(p) in line or p.name in line for p in paths)] + (
        [f"exit status {proc.returncode}"] if proc.returncode else []
    )


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    """Unknown keys, bad values and a missing ExecStart binary are all reported by verify."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (Debian: package systemd)")
    backroom = Path(sys.executable).parent / "backroom"
    assert os.access(backroom, os.X_OK), f"{backroom} missing: is the project installed?"
    copies = []
    for unit in UNITS:
        text = (SYSTEMD / unit).read_text()
        text = text.replace("/opt/backroom/venv/bin/backroom", str(backroom))
        (tmp_path / unit).write_text(text)
        copies.append(tmp_path / unit)
    assert _verify(copies) == []

    # The same check sees a typo: proof that an empty list above means something.
    broken = tmp_path / "broken" / UNITS[0]
    broken.parent.mkdir()
    broken.write_text(
        copies[0].read_text().replace("PrivateTmp=yes", "PrivateTmp=yes\nPrivatTmp=yes")
    )
    assert any("PrivatTmp" in line for line in _verify([broken]))


# --- udev rules ----------------------------------------------------------------------------------

MATCH_ONLY = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER",
              "DRIVERS", "ATTRS", "TAGS", "TEST", "PROGRAM", "RESULT", "CONST"}  # fmt: skip
ASSIGN_ONLY = {"OWNER", "GROUP", "MODE", "SECLABEL", "RUN", "LABEL", "GOTO", "OPTIONS"}
EITHER = {"NAME", "SYMLINK", "ATTR", "SYSCTL", "ENV", "TAG", "IMPORT"}  # IMPORT "=" means "=="
WITH_ATTR = {"ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "IMPORT", "SECLABEL"}  # RUN, TEST: optional
_PAIR = re.compile(r'\s*([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


def parse_rule(line: str) -> list[tuple[str, str | None, str, str]]:
    """One rule line as (KEY, {attr} or None, operator, value); ValueError names what is wrong."""
    pairs, pos = [], 0
    while True:
        m = _PAIR.match(line, pos)
        if not m:
            raise ValueError(f'cannot read a KEY op "value" pair at column {pos + 1}: {line!r}')
        key, attr, op, value = m.groups()
        if key not in MATCH_ONLY | ASSIGN_ONLY | EITHER:
            raise ValueError(f"unknown key {key} in {line!r}")
        if (attr is not None) != (key in WITH_ATTR) and key not in ("RUN", "TEST"):
            raise ValueError(f"{key} {'needs' if attr is None else 'takes no'} {{attribute}}")
        is_match = op in ("==", "!=")
        if (key in MATCH_ONLY and not is_match and key not in ("PROGRAM", "TEST")) or (
            key in ASSIGN_ONLY and is_match
        ):
            raise ValueError(f"operator {op} cannot go with {key} in {line!r}")
        if key in ("LABEL", "GOTO") and op != "=":
            raise ValueError(f"{key} takes =, not {op}")
        pairs.append((key, attr, op, value))
        pos = m.end()
        if pos == len(line):
            return pairs
        if line[pos] != ",":
            raise ValueError(f"expected ',' at column {pos + 1}: {line!r}")
        pos += 1


def rule_lines() -> list[str]:
    return [line for line in RULES.read_text().splitlines() if line and not line.startswith("#")]


def test_udev_rule_lines_use_known_keys_and_operators() -> None:
    rules = [parse_rule(line) for line in rule_lines()]
    labels = {v for rule in rules for k, _, _, v in rule if k == "LABEL"}
    assert {v for rule in rules for k, _, _, v in rule if k == "GOTO"} <= labels
    for rule in rules:
        for key, _, op, value in rule:
            if key == "SYMLINK":
                assert op == "+=" and re.fullmatch(r"backroom/(scanner|serial|printer)-\S+", value)
            if key == "GROUP":
                assert value in ("input", "dialout", "lp")
            if key == "MODE":
                assert value == "0660"


@pytest.mark.parametrize(
    "line",
    [
        'SUBSYSTEM="tty", GROUP="dialout"',  # assigns a match-only key
        'SUBSYSTEM=="tty", GROUP=="dialout"',  # matches an assign-only key
        'SUBSYSTEM=="tty" GROUP="dialout"',  # no comma
        'SUBSYSTEM=="tty", BOGUS=="1"',
        'ATTRS=="x"',  # no {attribute}
        'SUBSYSTEM=="tty", GOTO+="end"',
    ],
)
def test_the_rule_parser_refuses_broken_lines(line: str) -> None:
    with pytest.raises(ValueError):
        parse_rule(line)


_keys = st.sampled_from(["KERNEL", "SUBSYSTEM", "ENV{ID_X}", "ATTRS{idVendor}", "SYMLINK", "GROUP"])


@given(st.lists(st.tuples(_keys, st.text("abc-/?*$|{}0123 ", max_size=12)), min_size=1, max_size=5))
def test_the_rule_parser_reads_back_what_was_written(pairs: list[tuple[str, str]]) -> None:
    line = ", ".join(f'{k}{"=" if k == "GROUP" else "=="}"{v}"' for k, v in pairs)
    parsed = parse_rule(line)
    assert [(k + (f"{{{a}}}" if a else ""), v) for k, a, _, v in parsed] == pairs


def test_udev_rules_give_each_vendor_to_its_group() -> None:
    def vendors_of(group: str) -> set[str]:
        found: set[str] = set()
        for rule in map(parse_rule, rule_lines()):
            if ("GROUP", None, "=", group) in rule:
                (ids,) = [
                    v
                    for k, a, _, v in rule
                    if (k, a) in (("ATTRS", "idVendor"), ("ATTR", "idVendor"))
                ]
                found |= set(ids.split("|"))
        return found

    assert {"0c2e", "05e0", "05f9", "1eab"} <= vendors_of("input")
    assert vendors_of("dialout") == {"0403", "067b", "1a86", "10c4"}
    assert {"04b8", "0519", "1d90", "2730", "0a5f", "04f9"} <= vendors_of("lp")


def test_udevadm_verify_accepts_the_rules(tmp_path: Path) -> None:
    """systemd 254+ has `udevadm verify`; Debian 12's 252 has not (the parser above stands in)."""
    if not shutil.which("udevadm"):
        pytest.skip("udevadm is not installed")
    probe = subprocess.run(["udevadm", "verify", "--help"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("this udevadm has no verify command (systemd < 254)")
    broken = tmp_path / "98-broken.rules"
    broken.write_text('SUBSYSTEM=="tty", BOGUS=="1"\n')
    assert subprocess.run(["udevadm", "verify", str(broken)], timeout=30).returncode != 0
    proc = subprocess.run(
        ["udevadm", "verify", str(RULES)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_udevadm_test_reads_the_rules(tmp_path: Path) -> None:
    """udevadm test parses every rules file and names the line of any it cannot read."""
    if os.geteuid() != 0 or not shutil.which("udevadm") or not shutil.which("unshare"):
        pytest.skip("needs root, udevadm and unshare")
    shutil.copy(RULES, tmp_path)
    # A broken file next to ours proves that udevadm would report a bad line.
    (tmp_path / "98-broken.rules").write_text('SUBSYSTEM=="tty", BOGUS=="1"\n')
    script = f"mount --bind {tmp_path} /etc/udev/rules.d && udevadm test /sys/class/tty/ptmx"
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60
    )
    log = proc.stdout + proc.stderr
    if "98-broken.rules" not in log:
        pytest.skip(f"udevadm test cannot run here: {log[-300:]}")
    assert "98-broken.rules:1" in log
    assert "Reading rules file: /etc/udev/rules.d/99-backroom.rules" in log
    assert not [line for line in log.splitlines() if "99-backroom.rules:" in line]

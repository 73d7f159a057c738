"""The command line: help on every subcommand, clean errors, and the documented outputs."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import build_parser, main


def all_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += all_parsers(sub, (*path, name))
    return found


def test_every_subcommand_has_help_text() -> None:
    parsers = all_parsers(build_parser())
    names = {" ".join(p) for p, _ in parsers}
    assert {"demo", "demo scan", "demo weigh", "run", "devices", "status", "token create", "barcode parse", "sink"} <= names
    for path, parser in parsers:
        assert parser.description, f"`backroom {' '.join(path)}` has no help text"
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"option {action.option_strings} of `backroom {' '.join(path)}` has no help"


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["token", "create", "--help"], ["sink", "--help"]])
def test_help_exits_zero(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: backroom" in capsys.readouterr().out


def test_barcode_parse_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["barcode", "parse", "4006381333931", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "gtin" and out["valid"] is True and out["gtin"] == "04006381333931"
    assert set(out) >= {"kind", "valid", "gtin", "item_ref", "price_minor", "weight_g", "count", "expiry", "lot", "error"}
    assert main(["barcode", "parse", "4006381333932", "--json"]) == 1
    assert "expected 1 got 2" in json.loads(capsys.readouterr().out)["error"]


def test_token_create_prints_only_a_token_that_works(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "hub.cli", "token", "create", "--role", "owner", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    token = out.stdout.strip()
    assert out.stdout == token + "\n" and token.startswith("brt_")
    from hub.auth import Auth
    from hub.service import open_database

    db = open_database(tmp_path)
    assert Auth(db).token_role(token)[0] == "owner"
    db.close()


def test_a_config_error_is_one_clean_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub]\nhttp_prot = 80\n")
    out = subprocess.run([sys.executable, "-m", "hub.cli", "status", "--config", str(bad)], capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "unknown key hub.http_prot" in out.stderr and "did you mean hub.http_port" in out.stderr


def test_an_unusable_data_dir_is_one_clean_line(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    out = subprocess.run([sys.executable, "-m", "hub.cli", "token", "create", "--role", "owner",
                          "--data-dir", str(blocked / "data")], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "Not a directory" in out.stderr and str(blocked) in out.stderr


def test_a_bad_devices_section_is_one_clean_line(tmp_path: Path) -> None:
    conf = tmp_path / "backroom.toml"
    conf.write_text('[devices]\nscanners = false\nscales = [{port = "/dev/ttyUSB0"}, {port = "/dev/usb/ttyUSB0"}]\n')
    out = subprocess.run([sys.executable, "-m", "hub.cli", "devices", "--config", str(conf)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "[devices]" in out.stderr and "scale-ttyUSB0" in out.stderr

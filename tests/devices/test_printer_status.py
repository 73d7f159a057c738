"""DLE EOT status replies decoded, checked against the Epson ESC/POS reference bit tables
("DLE EOT n: Transmit real-time status", TM-T20/T88 series)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.bus import PrinterStatus
from devices.printer import status
from devices.printer.simulator import SimulatedPrinter

replies = st.one_of(st.none(), st.integers(0, 255))


def test_all_clear_replies_are_a_ready_printer() -> None:
    # 0x12: only the fixed bits 1 and 4 set, as a TM-T20 answers every n when all is well.
    assert status.decode(0x12, 0x12, 0x12, 0x12) == PrinterStatus(online=True)
    assert status.problem(status.decode(0x12, 0x12, 0x12, 0x12)) == ""


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        # n=1 bit 3 offline; n=2 bit 5 stopped by paper end; n=4 bits 2-3 near end, 5-6 end
        ((0x1A, 0x32, None, 0x7E), PrinterStatus(False, paper_low=True, paper_out=True)),
        # n=2 bit 2: cover open
        ((0x1A, 0x16, None, 0x12), PrinterStatus(False, cover_open=True)),
        # n=4 bits 2-3 alone: near end, still printing
        ((0x12, 0x12, None, 0x1E), PrinterStatus(True, paper_low=True)),
        # n=4 bit 2 alone is half the near-end pair: not near end
        ((0x12, 0x12, None, 0x16), PrinterStatus(True)),
        # n=1 bit 2 is the drawer sensor, n=1 bit 6 the feed button: neither is a fault
        ((0x56, 0x12, None, 0x12), PrinterStatus(True)),
    ],
)
def test_epson_bit_tables(replies: tuple[int | None, ...], expected: PrinterStatus) -> None:
    assert status.decode(*replies) == expected


@pytest.mark.parametrize(
    ("error_cause", "words"),
    [
        (0x1A, "autocutter"),  # n=3 bit 3
        (0x32, "cannot recover"),  # n=3 bit 5
        (0x52, "too hot"),  # n=3 bit 6
        (0x16, "paper jam"),  # n=3 bit 2
        (0x12, "reports an error"),  # n=2 bit 6 without a cause in n=3
    ],
)
def test_error_causes_are_named(error_cause: int, words: str) -> None:
    # n=2 bit 6: an error occurred; n=3 says which
    decoded = status.decode(0x1A, 0x52, error_cause, 0x12)
    assert not decoded.online and words in decoded.error
    assert words in status.problem(decoded)


def test_bytes_that_are_not_status_replies_are_ignored() -> None:
    # bit 7 set or bit 4 clear: not a DLE EOT reply (an echo, or noise on a serial line)
    assert status.valid(0x92) is None and status.valid(0x02) is None and status.valid(0x13) is None
    assert status.decode(0xFF, 0xFF, 0xFF, 0xFF) == PrinterStatus(True)


def test_problem_puts_the_cover_first() -> None:
    both = status.decode(0x1A, 0x36, None, 0x7E)
    assert both.cover_open and both.paper_out
    assert status.problem(both) == "its cover is open: close the cover"


@given(replies, replies, replies, replies)
def test_decode_never_raises_and_paper_out_implies_low(
    a: int | None, b: int | None, c: int | None, d: int | None
) -> None:
    decoded = status.decode(a, b, c, d)
    assert not decoded.paper_out or decoded.paper_low
    assert (status.problem(decoded) == "") == (
        decoded.online and not decoded.cover_open and not decoded.paper_out and not decoded.error
    )


@given(st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_the_simulators_replies_decode_to_its_faults(
    low: bool, out: bool, cover: bool, cutter: bool
) -> None:
    sim = SimulatedPrinter(Path("/nonexistent"))
    sim.paper_low, sim.paper_out, sim.cover_open, sim.cutter_error = low, out, cover, cutter
    replies = [sim.status_byte(n) for n in (1, 2, 3, 4)]
    assert all(status.valid(r) == r for r in replies)
    decoded = status.decode(*replies)
    assert decoded.online == (not (out or cover or cutter))
    assert (decoded.paper_out, decoded.cover_open, bool(decoded.error)) == (out, cover, cutter)
    assert decoded.paper_low == (low or out)

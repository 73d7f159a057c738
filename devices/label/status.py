"""What a label printer says about itself, per language, as a bus.PrinterStatus.

Pure: the status request bytes, when a reply is complete, and the reply parsed. The
simulator builds its replies with the same module, so both sides read one layout.
"""

from __future__ import annotations

from devices.bus import PrinterStatus

STX, ETX = b"\x02", b"\x03"

# ZPL II Programming Guide, ~HS: three strings, each STX ... ETX CR LF.
# String 1: aaa,b,c,dddd,eee,f,g,h,iii,j,k,l  (b paper out, c pause, k under temp, l over temp)
# String 2: mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www  (o head up, p ribbon out)
ZPL_QUERY = b"~HS\r\n"
# TSPL/TSPL2 Programming Manual, <ESC>!? : one byte. 0x01 head open, 0x02 paper jam,
# 0x04 out of paper, 0x08 out of ribbon, 0x10 pause, 0x20 printing, 0x80 other error.
TSPL_QUERY = b"\x1b!?"
# Brother QL Raster Command Reference, "Status information request": invalidate, ESC i S;
# the reply is 32 bytes starting 80 20 42. Byte 8 error 1 (bit 0 no media, bit 1 end of
# media, bit 2 cutter jam), byte 9 error 2 (bit 4 cover open, bit 6 feed error).
# Epson ESC/POS reference, DLE EOT 2 (offline cause): bit 2 cover open, bit 5 stopped by paper
# end, bit 6 error; bits 1 and 4 are always set, bits 0 and 7 clear.
ESCPOS_QUERY = b"\x10\x04\x02"
QL_INVALIDATE = b"\x00" * 200
QL_QUERY = QL_INVALIDATE + b"\x1b\x69\x53"
QL_REPLY_LEN = 32


def query(language: str) -> bytes | None:
    """The status request for language; None where the language has none."""
    return {
        "zpl": ZPL_QUERY,
        "tspl": TSPL_QUERY,
        "brother_ql": QL_QUERY,
        "escpos": ESCPOS_QUERY,
    }.get(language)


def complete(language: str, reply: bytes) -> bool:
    if language == "zpl":
        return reply.count(ETX) >= 3
    if language in ("tspl", "escpos"):
        return len(reply) >= 1
    return len(reply) >= QL_REPLY_LEN


def parse(language: str, reply: bytes) -> PrinterStatus:
    """The status a complete reply says; ValueError when it is not a reply of that language."""
    if language == "zpl":
        return _zpl(reply)
    if language == "tspl":
        return _tspl(reply)
    if language == "escpos":
        return _escpos(reply)
    return _brother(reply)


def _zpl(reply: bytes) -> PrinterStatus:
    strings = [
        part.split(ETX)[0].decode("ascii", "replace").split(",") for part in reply.split(STX)[1:]
    ]
    if len(strings) < 2 or len(strings[0]) < 3 or len(strings[1]) < 4:
        raise ValueError(f"~HS reply {reply[:80]!r} does not have the two status strings ZPL sends")
    paper_out, paused = strings[0][1] == "1", strings[0][2] == "1"
    head_up, ribbon_out = strings[1][2] == "1", strings[1][3] == "1"
    errors = [
        text
        for on, text in (
            (ribbon_out, "ribbon out: load a new ribbon"),
            (paused, "paused, so offline: press the pause button or send ~PS"),
        )
        if on
    ]
    return PrinterStatus(True, cover_open=head_up, paper_out=paper_out, error="; ".join(errors))


_TSPL_ERRORS = ((0x02, "paper jam: open the printer and clear the labels"),
                (0x08, "ribbon out: load a new ribbon"),
                (0x10, "paused, so offline: press the feed button"),
                (0x80, "printer error: switch it off and on"))  # fmt: skip


def _tspl(reply: bytes) -> PrinterStatus:
    if not reply:
        raise ValueError("empty reply to <ESC>!?")
    bits = reply[-1]
    error = "; ".join(text for bit, text in _TSPL_ERRORS if bits & bit)
    return PrinterStatus(
        True, cover_open=bool(bits & 0x01), paper_out=bool(bits & 0x04), error=error
    )


def _escpos(reply: bytes) -> PrinterStatus:
    if not reply or reply[-1] & 0x93 != 0x12:
        raise ValueError(f"DLE EOT 2 reply {reply[-1:].hex()} is not an ESC/POS status byte")
    bits = reply[-1]
    error = "printer error (jam, cutter or heat): open and close the cover" if bits & 0x40 else ""
    return PrinterStatus(
        True, cover_open=bool(bits & 0x04), paper_out=bool(bits & 0x20), error=error
    )


def _brother(reply: bytes) -> PrinterStatus:
    if len(reply) < QL_REPLY_LEN or not reply.startswith(b"\x80\x20\x42"):
        raise ValueError(
            f"Brother QL status reply {reply[:8].hex(' ')} is not 32 bytes starting 80 20 42"
        )
    err1, err2 = reply[8], reply[9]
    errors = [
        text
        for on, text in (
            (err1 & 0x04, "cutter jam: clear the cutter"),
            (err2 & 0x40, "labels cannot be fed: check the roll"),
            (err2 & 0x80, "system error: switch it off and on"),
        )
        if on
    ]
    return PrinterStatus(
        True, cover_open=bool(err2 & 0x10), paper_out=bool(err1 & 0x03), error="; ".join(errors)
    )


def zpl_reply(*, paper_out: bool = False, head_open: bool = False, paused: bool = False) -> bytes:
    """A ~HS reply as a Zebra sends it."""
    one = f"030,{int(paper_out)},{int(paused)},0240,000,0,0,0,000,0,0,0"
    two = f"000,0,{int(head_open)},0,0,2,0,0,00000000,1,000"
    return b"".join(STX + s.encode() + ETX + b"\r\n" for s in (one, two, "1234,0"))


def tspl_reply(*, paper_out: bool = False, head_open: bool = False, paused: bool = False) -> bytes:
    return bytes(
        [(0x01 if head_open else 0) | (0x04 if paper_out else 0) | (0x10 if paused else 0)]
    )


def ql_reply(
    *,
    paper_out: bool = False,
    head_open: bool = False,
    media_width_mm: int = 62,
    media_length_mm: int = 0,
    model_code: int = 0x38,
) -> bytes:
    """A QL status reply ("reply to status request", waiting to receive)."""
    reply = bytearray(QL_REPLY_LEN)
    reply[0:8] = bytes([0x80, 0x20, 0x42, 0x34, model_code, 0x30, 0x30, 0x00])
    reply[8] = 0x01 if paper_out else 0
    reply[9] = 0x10 if head_open else 0
    reply[10], reply[11] = media_width_mm, 0x0B if media_length_mm else 0x0A
    reply[17] = media_length_mm
    return bytes(reply)

"""ESC/POS bytes in, receipts out: the pure protocol half of the printer simulator.

Command lengths follow the Epson ESC/POS command reference (Application Programming Guide,
"Command details"). Anything unknown becomes a warning, never an exception, so one odd byte
from a driver cannot take the simulator down.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from escpos.capabilities import get_profile
from escpos.codepages import CodePages

MAX_WARNINGS = 20  # per receipt; garbage input should not make the list as long as the input

BARCODE_KINDS = {
    0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "CODABAR",
    65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "CODABAR",
    72: "CODE93", 73: "CODE128", 74: "GS1-128", 75: "GS1 DATABAR OMNIDIRECTIONAL",
    76: "GS1 DATABAR TRUNCATED", 77: "GS1 DATABAR LIMITED", 78: "GS1 DATABAR EXPANDED",
}  # fmt: skip
# Commands whose only effect here is to be skipped: second byte -> number of parameter bytes.
_ESC_SKIP = {
    b"G": 1, b"-": 1, b"M": 1, b"R": 1, b"V": 1, b"{": 1, b" ": 1, b"2": 0, b"3": 1, b"+": 1,
    b"A": 1, b"%": 1, b"?": 1, b"L": 0, b"S": 0, b"T": 1, b"W": 8, b"$": 2, b"\\": 2, b"K": 1,
    b"e": 1, b"U": 1, b"r": 1, b"=": 1, b"<": 0, b"c": 2, b"u": 1, b"v": 0, b"\x0c": 0,
    b"B": 2,  # buzzer: ESC B n t
}  # fmt: skip
_GS_SKIP = {
    b"B": 1, b"b": 1, b"H": 1, b"h": 1, b"w": 1, b"f": 1, b"L": 2, b"W": 2, b"P": 2, b"$": 2,
    b"\\": 2, b"a": 1, b"r": 1, b"I": 1, b":": 0, b"^": 3, b"/": 1, b"T": 1,
}  # fmt: skip
_FS_SKIP = {b"&": 0, b".": 0, b"!": 1, b"-": 1, b"C": 1, b"W": 1, b"S": 2, b"p": 2}


@dataclass
class DecodedReceipt:
    """What one cut of paper shows, and the bytes that made it."""

    text: str
    barcodes: list[tuple[str, str]] = field(default_factory=list)
    drawer_kicked: bool = False
    cut: bool = False
    raw: bytes = b""
    warnings: list[str] = field(default_factory=list)


def decode(data: bytes, width: int = 42) -> list[DecodedReceipt]:
    """Decode an ESC/POS stream into receipts, one per cut plus any uncut rest. Never raises."""
    decoder = EscPosDecoder(width)
    return decoder.feed(data) + decoder.close()


class _TableDecoder:
    """Decodes a code page given as a table of its 128 upper characters."""

    def __init__(self, table: str) -> None:
        self.table = table

    def decode(self, data: bytes, final: bool = False) -> str:
        return "".join(chr(x) if x < 0x80 else self.table[x - 0x80] for x in data)


@functools.cache
def _charset(n: int) -> Callable[[], _TableDecoder | codecs.IncrementalDecoder]:
    """A text decoder factory for code page n (ESC t n), from python-escpos's printer data."""
    name = get_profile().profile_data["codePages"].get(str(n), "CP437")
    enc = CodePages.data.get(name) or CodePages.data["CP437"]
    if "data" in enc:
        table = "".join(enc["data"])
        return lambda: _TableDecoder(table)
    try:
        factory = codecs.getincrementaldecoder(enc.get("python_encode", "cp437"))
    except LookupError:
        factory = codecs.getincrementaldecoder("cp437")
    return lambda: factory("replace")


class EscPosDecoder:
    """Incremental ESC/POS decoder: feed() bytes as they arrive, close() at end of stream."""

    def __init__(
        self,
        width: int = 42,
        on_status: Callable[[int], None] | None = None,
        on_drawer: Callable[[], None] | None = None,
    ) -> None:
        self.width = width
        self.on_status = on_status
        self.on_drawer = on_drawer  # called at once: a printer pulses the drawer when told to
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0], for warnings
        self._qr: dict[int, str] = {}
        self._cut = False
        self._init_modes()
        self._new_receipt()

    def feed(self, data: bytes) -> list[DecodedReceipt]:
        """Take more bytes; return the receipts a cut completed."""
        self._buf += data
        done: list[DecodedReceipt] = []
        pos = 0
        while pos < len(self._buf):
            self._cut = False
            end = self._step(pos)
            if end is None:
                break
            self._raw += self._buf[pos:end]
            pos = end
            if self._cut:
                done.append(self._finish(cut=True))
        del self._buf[:pos]
        self._offset += pos
        return done

    def close(self) -> list[DecodedReceipt]:
        """End of stream: return what was printed after the last cut, if anything."""
        if self._buf:
            self._warn(0, f"stream ends inside a command ({len(self._buf)} bytes dropped)")
            self._raw += self._buf
            self._offset += len(self._buf)
            self._buf.clear()
        self._end_text()
        if self._line:
            self._flush()
        if any(self._lines) or self._barcodes or self._drawer:
            return [self._finish(cut=False)]
        return []

    def _kick(self) -> None:
        self._drawer = True
        if self.on_drawer is not None:
            self.on_drawer()

    def _init_modes(self) -> None:
        self._align, self._wide = 0, 1
        self._codepage(0)
        self._image_run = False  # inside a run of ESC * bands, shown as one [IMAGE] line

    def _new_receipt(self) -> None:
        self._lines: list[str] = []
        self._line: list[str] = []
        self._barcodes: list[tuple[str, str]] = []
        self._drawer = False
        self._raw = bytearray()
        self._warnings: list[str] = []
        self._dropped = 0

    def _finish(self, cut: bool) -> DecodedReceipt:
        if self._line:
            self._flush()
        lines = [line.rstrip() for line in self._lines]
        while lines and not lines[-1]:
            lines.pop()
        warnings = self._warnings
        if self._dropped:
            warnings.append(f"... and {self._dropped} more warnings")
        receipt = DecodedReceipt(
            "\n".join(lines), self._barcodes, self._drawer, cut, bytes(self._raw), warnings
        )
        self._new_receipt()
        return receipt

    def _warn(self, pos: int, message: str) -> None:
        if len(self._warnings) < MAX_WARNINGS:
            self._warnings.append(f"offset {self._offset + pos}: {message}")
        else:
            self._dropped += 1

    # --- printing -----------------------------------------------------------------------

    def _codepage(self, n: int) -> None:
        self._chars = _charset(n)()

    def _end_text(self) -> None:
        """A text run ended: print what a multi-byte code page still holds back."""
        if rest := self._chars.decode(b"", True):
            self._text(rest)

    def _text(self, chars: str) -> None:
        self._image_run = False
        columns = max(1, self.width // self._wide)
        for ch in chars:
            if len(self._line) >= columns:  # the printer wraps at the right margin
                self._flush()
            self._line.append(ch)

    def _flush(self) -> None:
        text = "".join(self._line).rstrip()
        room = self.width - len(text) * self._wide
        pad = 0 if self._align == 0 or room <= 0 else room // 2 if self._align == 1 else room
        self._lines.append(" " * pad + text)
        self._line = []

    def _block(self, label: str) -> None:
        """A barcode or image: a line of its own, shown as a label."""
        if self._line:
            self._flush()
        self._line = list(label)
        wide, self._wide = self._wide, 1
        self._flush()
        self._wide = wide

    # --- parsing: each returns the end of the command, or None when more bytes are needed -

    def _step(self, pos: int) -> int | None:
        buf, b = self._buf, self._buf[pos]
        if b >= 0x20:
            end = pos + 1
            while end < len(buf) and buf[end] >= 0x20:
                end += 1
            self._text(self._chars.decode(bytes(buf[pos:end])))
            return end
        self._end_text()
        if b == 0x0A or b == 0x0C:  # LF, FF
            if self._line or not self._image_run:  # a bit-image band ends with its own LF
                self._flush()
        elif b == 0x09:
            self._text(" " * (8 - len(self._line) % 8))
        elif b == 0x1B:
            return self._esc(pos)
        elif b == 0x1D:
            return self._gs(pos)
        elif b == 0x10:
            return self._dle(pos)
        elif b == 0x1C:
            return self._skip(pos, _FS_SKIP, "FS")
        elif b not in (0x0D, 0x18):  # CR and CAN change nothing on paper
            self._warn(pos, f"unexpected control byte 0x{b:02x}")
        return pos + 1

    def _arg(self, pos: int, count: int) -> bytes | None:
        """The count bytes from pos, or None if they have not all arrived yet."""
        return bytes(self._buf[pos : pos + count]) if pos + count <= len(self._buf) else None

    def _skip(self, pos: int, table: dict[bytes, int], name: str) -> int | None:
        cmd = self._arg(pos + 1, 1)
        if cmd is None:
            return None
        if cmd not in table:
            self._warn(pos, f"unknown command {name} 0x{cmd[0]:02x}")
            return pos + 2
        return self._payload(pos + 2, table[cmd])

    def _esc(self, pos: int) -> int | None:
        cmd = self._arg(pos + 1, 1)
        if cmd is None:
            return None
        if cmd == b"@":
            self._line = []  # ESC @ also clears the print buffer
            self._init_modes()
            return pos + 2
        if cmd in (b"i", b"m"):  # older partial cut
            self._cut = True
            return pos + 2
        if cmd == b"p":  # ESC p m t1 t2: drawer kick pulse
            end = self._payload(pos + 2, 3)
            if end is not None:
                self._kick()
            return end
        if cmd == b"*":
            return self._bit_image(pos)
        if cmd == b"D":  # tab stops, NUL-terminated, at most 32
            return self._until_nul(pos, pos + 2, 33)
        if cmd == b"&":
            return self._user_chars(pos)
        if cmd not in (b"!", b"E", b"a", b"t", b"d", b"J"):
            return self._skip(pos, _ESC_SKIP, "ESC")
        arg = self._arg(pos + 2, 1)
        if arg is None:
            return None
        n = arg[0]
        if cmd == b"!":
            self._wide = 2 if n & 0x20 else 1
        elif cmd == b"a":
            if n % 48 > 2 or n > 50:
                self._warn(pos, f"ESC a with unknown alignment {n}")
            self._align = n % 48 if n % 48 <= 2 and n <= 50 else 0
        elif cmd == b"t":
            self._codepage(n)
        elif cmd == b"d":  # print the buffer, then feed n lines
            if self._line or n:
                self._flush()
            self._lines.extend([""] * max(0, n - 1))
        elif cmd == b"J" and self._line:
            self._flush()
        return pos + 3

    def _gs(self, pos: int) -> int | None:
        cmd = self._arg(pos + 1, 1)
        if cmd is None:
            return None
        if cmd not in (b"!", b"V", b"k", b"(", b"8", b"v", b"*"):
            return self._skip(pos, _GS_SKIP, "GS")
        arg = self._arg(pos + 2, 1)
        if arg is None:
            return None
        n = arg[0]
        if cmd == b"!":
            self._wide = (n >> 4 & 7) + 1
            return pos + 3
        if cmd == b"V":  # cut; function B, C and D carry a feed amount
            end = self._payload(pos + 3, 1 if n in (65, 66, 97, 98, 103, 104) else 0)
            self._cut = end is not None
            return end
        if cmd == b"k":
            return self._barcode(pos, n)
        if cmd == b"(":
            return self._gs_paren(pos)
        if cmd == b"8" and n == ord("L"):  # graphics data with a 32-bit length
            size = self._arg(pos + 3, 4)
            return None if size is None else self._payload(pos + 7, int.from_bytes(size, "little"))
        if cmd == b"v" and n == ord("0"):  # raster bit image: GS v 0 m xL xH yL yH d...
            hdr = self._arg(pos + 4, 4)
            if hdr is None:
                return None
            x, y = hdr[0] + 256 * hdr[1], hdr[2] + 256 * hdr[3]
            return self._payload(pos + 8, x * y, f"[IMAGE {x * 8}x{y}]")
        if cmd == b"*":  # define downloaded image: GS * x y d... (x * y * 8 bytes)
            y = self._arg(pos + 3, 1)
            return None if y is None else self._payload(pos + 4, n * y[0] * 8)
        self._warn(pos, f"unknown command GS {cmd.decode('latin-1')} {n}")
        return pos + 3

    def _dle(self, pos: int) -> int | None:
        head = self._arg(pos + 1, 2)
        if head is None:
            return None
        cmd, n = head[0], head[1]
        if cmd == 0x04:  # DLE EOT n: real-time status, answered even mid-job
            end = self._payload(pos + 3, 1 if n in (7, 8) else 0)
            if end is not None and n in (1, 2, 3, 4) and self.on_status is not None:
                self.on_status(n)
            return end
        if cmd == 0x05:  # DLE ENQ n
            return pos + 3
        if cmd == 0x14:  # DLE DC4 fn ...: fn 1 is a real-time drawer kick
            length = {1: 5, 2: 5, 7: 4, 8: 10}.get(n)
            if length is None:
                self._warn(pos, f"unknown command DLE DC4 {n}")
                return pos + 3
            end = self._payload(pos + 3, length - 3)
            if end is not None and n == 1:
                self._kick()
            return end
        self._warn(pos, f"unknown command DLE 0x{cmd:02x}")
        return pos + 2

    def _payload(self, start: int, length: int, label: str = "") -> int | None:
        if start + length > len(self._buf):
            return None
        if label:
            self._block(label)
        return start + length

    def _until_nul(self, pos: int, start: int, limit: int) -> int | None:
        end = self._buf.find(0, start, start + limit)
        if end >= 0:
            return end + 1
        if len(self._buf) - start < limit:
            return None
        self._warn(pos, "parameter list is not NUL-terminated")
        return start

    def _barcode(self, pos: int, m: int) -> int | None:
        kind = BARCODE_KINDS.get(m, f"TYPE{m}")
        if m < 65:  # function A: data up to NUL
            end = self._until_nul(pos, pos + 3, 256)
            if end is None or end == pos + 3:
                return end
            data = bytes(self._buf[pos + 3 : end - 1])
        else:  # function B: length byte, then data
            size = self._arg(pos + 3, 1)
            data_or_none = None if size is None else self._arg(pos + 4, size[0])
            if data_or_none is None:
                return None
            data, end = data_or_none, pos + 4 + len(data_or_none)
        text = _code128_text(data) if kind in ("CODE128", "GS1-128") else data.decode("latin-1")
        self._barcodes.append((kind, text))
        self._block(f"[{kind}: {_visible(text)}]")
        return end

    def _gs_paren(self, pos: int) -> int | None:
        hdr = self._arg(pos + 2, 3)
        if hdr is None:
            return None
        fn, size = hdr[0], hdr[1] + 256 * hdr[2]
        body = self._arg(pos + 5, size)
        if body is None:
            return None
        if fn == ord("k") and len(body) >= 2 and body[0] in (48, 49):  # PDF417, QR
            symbol, kind = body[0], "PDF417" if body[0] == 48 else "QR"
            if body[1] == 80:  # store the data
                self._qr[symbol] = body[3:].decode("latin-1")
            elif body[1] == 81:  # print the stored data
                data = self._qr.get(symbol, "")
                self._barcodes.append((kind, data))
                self._block(f"[{kind}: {_visible(data)}]")
        elif fn == ord("L") and body[1:2] == b"2":  # print buffered graphics
            self._block("[IMAGE]")
        return pos + 5 + size

    def _bit_image(self, pos: int) -> int | None:
        hdr = self._arg(pos + 2, 3)
        if hdr is None:
            return None
        m, dots = hdr[0], hdr[1] + 256 * hdr[2]
        if m not in (0, 1, 32, 33):
            self._warn(pos, f"ESC * with unknown mode {m}")
            return pos + 2
        end = self._payload(
            pos + 5, dots * (3 if m >= 32 else 1), "" if self._image_run else "[IMAGE]"
        )
        self._image_run = self._image_run or end is not None
        return end

    def _user_chars(self, pos: int) -> int | None:
        hdr = self._arg(pos + 2, 3)
        if hdr is None:
            return None
        y, c1, c2 = hdr
        end = pos + 5
        for _ in range(max(0, c2 - c1 + 1)):
            x = self._arg(end, 1)
            if x is None:
                return None
            end += 1 + y * x[0]
        return end if end <= len(self._buf) else None


def _visible(data: str) -> str:
    """Barcode data for a printed label: control characters (GS1's GS, say) shown as "?"."""
    return "".join("?" if ch < " " or "\x7f" <= ch < "\xa0" else ch for ch in data)


def _code128_text(data: bytes) -> str:
    """Human-readable Code 128 data: code set switches removed, "{{" back to "{", set C as digits."""
    out, i, code_c = [], 0, False
    while i < len(data):
        if data[i] == 0x7B and i + 1 < len(data):  # "{"
            nxt = chr(data[i + 1])
            if nxt == "{":
                out.append("{")
            elif nxt in "ABC":
                code_c = nxt == "C"
            i += 2  # "{1".."{4" are FNC codes: no printable character
            continue
        out.append(f"{data[i]:02d}" if code_c else chr(data[i]))
        i += 1
    return "".join(out)

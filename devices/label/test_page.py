"""The test label each language prints: the device id, language, size and time, plus a
Code 128 of the device id (ZPL, TSPL, ESC/POS) so a scanner check proves the bars print too."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont


def lines(dev_id: str, language: str, connection: str, size: str, when: str) -> list[str]:
    return ["Backroom test label", dev_id, f"{language} {size}", connection, when]


def _clean(text: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '^~\\"' else "?" for c in text)


def render(
    language: str, texts: list[str], code: str, width_dots: int, height_dots: int, dpi: int
) -> bytes:
    """Test label bytes in language (brother_ql: a PNG at dpi for brother.raster)."""
    texts, code = [_clean(t) for t in texts], _clean(code)[:40]
    step = max(16, height_dots // (len(texts) + 3))
    if language == "zpl":
        out = ["^XA", f"^PW{width_dots}", f"^LL{height_dots}"]
        out += [
            f"^FO10,{10 + i * step}^A0N,{step - 4},{step - 4}^FD{t}^FS" for i, t in enumerate(texts)
        ]
        out += [
            f"^FO10,{10 + len(texts) * step}^BY2^BCN,{step * 2},N,N,N^FD{code}^FS",
            "^PQ1",
            "^XZ",
        ]
        return ("\n".join(out) + "\n").encode("ascii")
    if language == "tspl":
        mm_w, mm_h = round(width_dots * 25.4 / dpi), round(height_dots * 25.4 / dpi)
        out = [f"SIZE {mm_w} mm,{mm_h} mm", "GAP 2 mm,0 mm", "CLS"]
        out += [f'TEXT 10,{10 + i * step},"2",0,1,1,"{t}"' for i, t in enumerate(texts)]
        out += [
            f'BARCODE 10,{10 + len(texts) * step},"128",{step * 2},0,0,2,2,"{code}"',
            "PRINT 1,1",
        ]
        return ("\r\n".join(out) + "\r\n").encode("ascii")
    if language == "escpos":
        body = b"\x1b@" + "".join(t + "\n" for t in texts).encode("ascii")
        data = b"{B" + code.replace("{", "{{").encode()
        return body + b"\x1dk" + bytes([73, len(data)]) + data + b"\x1bd\x04\x1dV\x00"
    image = Image.new("L", (width_dots, height_dots), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(10, step - 6))
    for i, t in enumerate(texts):
        draw.text((10, 5 + i * step), t, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(dpi, dpi))
    return out.getvalue()

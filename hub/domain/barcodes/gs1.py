"""GS1 element strings (GS1-128, DataBar Expanded, GS1 DataMatrix, GS1 QR).

biip knows every application identifier, its length and format; this module walks the
string itself so an error can name the AI and position it failed at, and turns the AIs a
shop uses (01, 10, 17, 21, 310x, 392x) into a ParsedCode.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from hub.domain.barcodes.gtin import ParsedCode, check_digit_error, invalid
from hub.domain.money import div_half_up

if TYPE_CHECKING:
    from biip import ParseConfig
    from biip.gs1_element_strings import GS1ElementString

GS = "\x1d"  # FNC1 in the data stream (GS1 General Specifications 7.8.5)


# biip is imported on the first GS1 or scale-label scan, not at start-up: it costs a Pi about
# 20 MB of resident memory, which a shop that never meets these codes should not pay.
@functools.cache
def _config() -> ParseConfig:
    from biip import ParseConfig

    return ParseConfig(separator_chars=(GS,))
_FIXED = re.compile(r"^N\d+\+N(\d+)$")  # 'N2+N14': a fixed-length numeric AI
_HRI = re.compile(r"\((\d{2,4})\)([^(]*)")


def looks_like_gs1(code: str) -> bool:
    """Without an AIM identifier: GS separators, HRI '(01)...', or AI 01 and a 14-digit GTIN first."""
    return GS in code or code.startswith("(") or (
        len(code) >= 16 and code.startswith("01") and code[2:16].isdigit()
    )


def _from_hri(text: str) -> str | None:
    """'(01)04006381333931(10)AB1' -> '0104006381333931' GS '10AB1', or None if it is not HRI."""
    parts = _HRI.findall(text)
    if not parts or "".join(f"({a}){v}" for a, v in parts) != text:
        return None
    return GS.join(a + v for a, v in parts)


def _element(rest: str, at: int) -> GS1ElementString | str:
    """The element string at the start of rest, or a sentence saying why there is none."""
    from biip import ParseError
    from biip.gs1_application_identifiers import GS1ApplicationIdentifier
    from biip.gs1_element_strings import GS1ElementString

    try:
        ai = GS1ApplicationIdentifier.extract(rest)
    except ParseError:
        return f"unknown prefix: no GS1 application identifier starts at position {at} ({rest[:4]!r})"
    try:
        return GS1ElementString.extract(rest, config=_config())
    except ParseError:
        data = rest[len(ai.ai):].split(GS, 1)[0]
        fixed = _FIXED.match(ai.format)
        if fixed and (data == "" or data.isdigit()) and len(data) < int(fixed[1]):
            return f"AI {ai} is truncated: {len(data)} of {fixed[1]} digits"
        if ai.ai in ("11", "12", "13", "15", "16", "17"):
            return f"AI {ai} date {data[:6]!r} is not a valid YYMMDD date"
        return f"AI {ai} value {data!r} does not fit its format {ai.format}"


def parse_gs1(text: str, symbology: str | None) -> ParsedCode:
    """Read a GS1 element string; errors name the AI that is wrong."""
    if text.startswith("("):
        unbracketed = _from_hri(text)
        if unbracketed is None:
            return invalid(f"{text!r} looks like GS1 text '(AI)value' but does not read as one", symbology)
        text = unbracketed
    values: dict[str, Any] = {}
    at = elements = 0
    while at < len(text):
        if text[at] == GS:
            at += 1
            continue
        found = _element(text[at:], at)
        if isinstance(found, str):
            return invalid(found, symbology, kind="gs1")
        problem = _use(found, values)
        if problem:
            return invalid(problem, symbology, kind="gs1")
        at += len(found)
        elements += 1
    if not elements:
        return invalid("the GS1 string holds no application identifiers", symbology, kind="gs1")
    return ParsedCode("gs1", True, symbology=symbology, **values)


def _use(es: GS1ElementString, values: dict[str, Any]) -> str | None:
    """Copy what one element string means into values; a sentence if it is wrong."""
    ai = es.ai.ai
    if ai == "01":
        error = check_digit_error("AI (01) GTIN", es.value)
        if error:
            return error
        values["gtin"] = es.value
    elif ai in ("00", "02"):  # SSCC and the GTIN of contained items: same mod-10 check digit
        error = check_digit_error("AI (00) SSCC" if ai == "00" else "AI (02) GTIN", es.value)
        if error:
            return error
    elif ai == "10":
        values["lot"] = es.value
    elif ai == "21":
        values["serial"] = es.value
    elif ai == "17" and es.date is not None:
        values["expiry"] = es.date.isoformat()
    elif ai[:3] in ("310", "392"):
        # The 4th digit is the number of decimals (General Specifications 3.6.2, 3.6.5). Read
        # here, in integers: biip's decimal misplaces the point when the value is shorter.
        key, factor = ("weight_g", 1000) if ai[:3] == "310" else ("price_minor", 100)
        values[key] = div_half_up(int(es.value) * factor, 10 ** int(ai[3]))
    return None

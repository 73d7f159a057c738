"""Reading scanned codes: GTINs, GS1 element strings and variable-measure scale labels.

parse() never raises: every input gives a ParsedCode, with error saying what is wrong.
"""

from hub.domain.barcodes.gtin import (
    KINDS,
    ParsedCode,
    check_digit,
    strip_aim,
    upce_to_upca,
    with_check_digit,
)
from hub.domain.barcodes.rcn import PATTERN_HELP, REGIONS, pattern_problem, price_check_digit
from hub.domain.barcodes.scan import gtin_readings, parse

__all__ = [
    "KINDS", "PATTERN_HELP", "REGIONS", "ParsedCode", "check_digit", "gtin_readings",
    "parse", "pattern_problem", "price_check_digit", "strip_aim", "upce_to_upca", "with_check_digit",
]

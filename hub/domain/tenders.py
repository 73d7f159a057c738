"""How a sale is paid: tender kinds, split tenders, change, stored value, and the card-number guard. Pure.

Kinds: `cash`; `card` on an external terminal (Backroom records the amount and the terminal's
reference, never a card number); `gift_card` and `store_credit`, stored-value accounts named by
the code printed on the card (reference); `exchange`, credit from a return towards its
replacement sale (reference: the id of a return recorded with exchange: true). Here only its shape
is checked; that the return exists and holds the credit is checked in the sale's own transaction
(hub.returns.ReturnsDesk.spend_credit).
Any mix may pay one sale; change comes only out of cash.

The card-number guard: a card number (PAN) is 13-19 digits passing the Luhn check, typed with or
without spaces or dashes between digit groups (ISO/IEC 7812). Every JSON body the hub accepts is
searched, every string and number at any depth (find_card_number). Two kinds of value are not
card numbers and pass: a UUID (ids), and in a barcode field (BARCODE_FIELDS, or a list under one) a
value of GTIN shape, 8, 12, 13 or 14 digits, or a GS1 element string starting with AI 01 and a valid
GTIN-14. A GTIN's check digit is GS1 mod 10 (weights 3,1), not Luhn, yet about one GTIN in ten
passes Luhn by chance; a mistyped GTIN there gets the barcode parser's own message about its check
digit. The price: a 13- or 14-digit card number typed into a barcode field passes (rare: old Visa
and Diners numbers); 15-19 digits are refused there too. Anywhere else, a value that looks like a
card number is refused, whatever the field.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.domain import money
from hub.errors import UnprocessableError, ValidationError

TENDER_KINDS = ("cash", "card", "gift_card", "store_credit", "exchange")
STORED_VALUE_KINDS = ("gift_card", "store_credit")
MAX_TENDERS = 20
MAX_AMOUNT = 10**10
BARCODE_FIELDS = frozenset({"code", "barcode", "barcodes", "gtin", "sku", "data", "receipt_code", "q"})  # q: a search
CARD_NUMBER_MESSAGE = ("that looks like a card number: never type card numbers into Backroom; "
                       "enter the terminal's reference")
# 13-19 digits in groups joined by one space or dash, not glued to a letter or digit, nor part of a longer
# run of digit groups
_PAN = re.compile(r"(?<![0-9A-Za-z])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])(?![ -]\d)")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/._-]{0,31}")
ACCOUNT_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{3,31}")


@dataclass(frozen=True)
class Tender:
    kind: str
    amount_minor: int
    reference: str = ""


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def looks_like_card_number(text: str) -> bool:
    """13-19 digits (spaces or dashes between them ignored) passing Luhn, standing on their own."""
    return any(luhn_ok(re.sub(r"[ -]", "", m.group())) for m in _PAN.finditer(text))


def _gtin_ok(digits: str) -> bool:
    if len(digits) not in (8, 12, 13, 14) or not digits.isdigit():
        return False
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == int(digits[-1])


def is_barcode(text: str) -> bool:
    """GTIN-shaped (8, 12, 13 or 14 digits), or a GS1 element string opening with AI 01 and a valid GTIN-14."""
    compact = re.sub(r"^\][A-Za-z]\d", "", text.strip()).replace("(", "").replace(")", "")
    gtin_shaped = compact.isdigit() and len(compact) in (8, 12, 13, 14)
    return gtin_shaped or (compact.startswith("01") and _gtin_ok(compact[2:16]))


def find_card_number(value: Any, path: str = "") -> str | None:
    """The path (e.g. `tenders[0].reference`) of the first value that looks like a card number, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            if name in BARCODE_FIELDS and (isinstance(item, str) and is_barcode(item) or isinstance(item, list)
                                           and all(isinstance(x, str) and is_barcode(x) for x in item)):
                continue
            found = find_card_number(item, f"{path}.{name}" if path else name)
            if found is not None:
                return found
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = find_card_number(item, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return path if looks_like_card_number(str(value)) else None
    if isinstance(value, str) and not _UUID.fullmatch(value.strip()):
        return path if looks_like_card_number(value) else None
    return None


def find_card_number_in_csv(text: str) -> str | None:
    """Where in a CSV file (`row N, column NAME`) the first card-number-looking cell is, or None.

    The header row names the columns, so a barcode column gets the barcode rule; a cell of a row
    the header does not name is searched as free text."""
    rows = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(rows, [])]
    for n, row in enumerate(rows, start=1):  # data rows, numbered as the item import numbers them
        for i, cell in enumerate(row):
            name = header[i] if i < len(header) and header[i] else f"#{i + 1}"
            if name == "barcodes":  # the item CSV lists barcodes in one cell, separated by | or spaces
                parts: Any = [p for p in re.split(r"[|;\s]+", cell) if p]
            else:
                parts = cell
            if find_card_number({name: parts}) is not None:
                return f"row {n}, column {name}"
    return None


def refuse_card_numbers(body: Any) -> None:
    """Raise 422 card_number naming the field of the first card-number-looking value in body."""
    field = find_card_number(body)
    if field is not None:
        raise UnprocessableError(CARD_NUMBER_MESSAGE, field=field or None, code="card_number")


def _reference(kind: str, raw: Any, at: str) -> str:
    reference = raw if raw is not None else ""
    if not isinstance(reference, str):
        raise ValidationError(f"{at}.reference must be text", field=f"{at}.reference")
    reference = reference.strip()
    if looks_like_card_number(reference):
        raise UnprocessableError(CARD_NUMBER_MESSAGE, field=f"{at}.reference", code="card_number")
    if kind == "cash":
        if len(reference) > 64:
            raise ValidationError(f"{at}.reference must be text of at most 64 characters", field=f"{at}.reference")
    elif kind == "card":
        if not _REFERENCE.fullmatch(reference):
            raise ValidationError(f"{at}.reference must be the card terminal's reference for this payment: 1-32 "
                                  f"letters, digits, / . _ - (got {reference!r})", field=f"{at}.reference")
    elif kind in STORED_VALUE_KINDS:
        if not ACCOUNT_CODE.fullmatch(reference.upper()):
            raise ValidationError(f"{at}.reference must be the {kind.replace('_', ' ')} code: scan or type it "
                                  f"(got {reference!r})", field=f"{at}.reference")
        reference = reference.upper()
    elif not _UUID.fullmatch(reference):
        raise ValidationError(f"{at}.reference must be the id of the return this exchange credit comes from "
                              f"(a UUID), got {reference!r}", field=f"{at}.reference")
    return reference


def parse_tenders(raw_tenders: Any) -> list[Tender]:
    """Check a sale's tenders: a non-empty list of {kind, amount_minor, reference}."""
    if not isinstance(raw_tenders, list) or not raw_tenders:
        raise ValidationError("tenders must be a non-empty list of {kind, amount_minor, reference}", field="tenders")
    if len(raw_tenders) > MAX_TENDERS:
        raise ValidationError(f"a sale takes at most {MAX_TENDERS} tenders", field="tenders")
    tenders = []
    for i, raw in enumerate(raw_tenders):
        at = f"tenders[{i}]"
        if not isinstance(raw, dict):
            raise ValidationError(f"{at} must be an object {{kind, amount_minor, reference}}", field=at)
        extra = set(raw) - {"kind", "amount_minor", "reference"}
        if extra:
            name = sorted(extra)[0]
            raise ValidationError(f"{at} has an unknown field {name!r}; allowed: kind, amount_minor, reference",
                                  field=f"{at}.{name}")
        kind = raw.get("kind")
        if kind not in TENDER_KINDS:
            raise ValidationError(f"{at}.kind {kind!r} is not a tender; use one of {', '.join(TENDER_KINDS)}",
                                  field=f"{at}.kind")
        amount = raw.get("amount_minor")
        if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= MAX_AMOUNT:
            raise ValidationError(f"{at}.amount_minor must be a whole number of minor units from 1 to {MAX_AMOUNT}, "
                                  f"got {amount!r}", field=f"{at}.amount_minor")
        tenders.append(Tender(kind, amount, _reference(kind, raw.get("reference"), at)))
    return tenders


RECEIPT_CHOICES = ("print", "none")


def receipt_choice(body: Any) -> str:
    """A sale's `receipt`: print (the default) on the register's printer, or none (cash still opens the drawer)."""
    choice = body.get("receipt", "print") if isinstance(body, dict) else "print"
    if choice not in RECEIPT_CHOICES:
        raise ValidationError(f"receipt must be print or none, got {choice!r}", field="receipt")
    return str(choice)


def settle(total_minor: int, tenders: Sequence[Tender], currency: str = "") -> tuple[int, int]:
    """(tendered, change) for a sale of total_minor: the tenders cover it, and change comes only from cash."""
    tendered = sum(t.amount_minor for t in tenders)
    if tendered < total_minor:
        raise UnprocessableError(
            f"tendered {money.format_minor(tendered, currency).strip()} is less than the total "
            f"{money.format_minor(total_minor, currency).strip()}; take another tender for the "
            f"{money.format_minor(total_minor - tendered, currency).strip()} still due", field="tenders")
    change = tendered - total_minor
    cash = sum(t.amount_minor for t in tenders if t.kind == "cash")
    if change > cash:
        raise UnprocessableError(
            f"the non-cash tenders pay {money.format_minor(tendered - cash, currency).strip()}, more than the total "
            f"{money.format_minor(total_minor, currency).strip()}; change is given only from cash: lower the card, "
            "gift card or credit amount", field="tenders")
    return tendered, change


def balance(movements: Iterable[int]) -> int:
    """A stored-value account's balance: the sum of its movements."""
    return sum(movements)


def check_movement(current_minor: int, amount_minor: int, actor: str, code: str, currency: str = "") -> int:
    """The balance after a movement of amount_minor (+ credit, - debit); never below zero, always by someone."""
    if not actor:
        raise ValidationError("every stored-value movement names who made it", field="actor")
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor == 0 \
            or abs(amount_minor) > MAX_AMOUNT:
        raise ValidationError(f"a movement is a non-zero whole number of minor units, got {amount_minor!r}",
                              field="amount_minor")
    after = current_minor + amount_minor
    if after < 0:
        raise UnprocessableError(
            f"{code} holds {money.format_minor(current_minor, currency).strip()}, less than the "
            f"{money.format_minor(-amount_minor, currency).strip()} asked; take the rest with another tender",
            field="amount_minor", code="insufficient_balance")
    return after

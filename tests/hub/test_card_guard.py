"""The card-number guard: no value that looks like a payment card number gets into the hub, by any route."""

import uuid

from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.tenders import (
    CARD_NUMBER_MESSAGE,
    find_card_number,
    is_barcode,
    looks_like_card_number,
    luhn_ok,
)
from hub.service import HubService


def with_luhn(payload: str) -> str:
    """payload + the digit that makes it pass Luhn (an independent construction: try all ten)."""
    return next(payload + d for d in "0123456789" if luhn_ok(payload + d))


def gtin(payload: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return payload + str((10 - total % 10) % 10)


pans = st.integers(13, 19).flatmap(lambda n: st.text("0123456789", min_size=n - 1, max_size=n - 1)).map(with_luhn)


@given(pans, st.sampled_from(["", " ", "-"]))
def test_every_card_number_of_13_to_19_digits_is_refused_as_typed(pan: str, sep: str) -> None:
    typed = sep.join(pan[i:i + 4] for i in range(0, len(pan), 4))
    assert looks_like_card_number(typed)
    assert looks_like_card_number(f"paid with {typed} today")
    assert find_card_number({"tenders": [{"kind": "card", "reference": typed}]}) == "tenders[0].reference"


@given(st.integers(13, 19).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)))
def test_digit_strings_failing_luhn_pass(digits: str) -> None:
    if not luhn_ok(digits):
        assert not looks_like_card_number(digits)
        assert find_card_number({"note": digits}) is None


@given(st.text("0123456789", min_size=1, max_size=12) | st.text("0123456789", min_size=20, max_size=30))
def test_too_short_or_too_long_runs_are_not_card_numbers(digits: str) -> None:
    assert not looks_like_card_number(digits)


@given(pans)
def test_digits_glued_to_letters_are_a_code_not_a_card_number(pan: str) -> None:
    assert not looks_like_card_number(f"TERM{pan}")
    assert not looks_like_card_number(f"{pan}X")


@given(st.uuids())
def test_uuids_are_never_refused(value: uuid.UUID) -> None:
    assert find_card_number({"id": str(value), "sale_id": str(value).upper()}) is None


@given(st.sampled_from([7, 11, 12, 13]).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)).map(gtin))
def test_a_valid_gtin_in_a_barcode_field_passes_even_when_it_passes_luhn(code: str) -> None:
    assert is_barcode(code)
    for field in ("code", "barcode", "gtin", "sku", "data"):
        assert find_card_number({"lines": [{field: code}]}) is None
    assert find_card_number({"lines": [{"code": "01" + code.zfill(14) + "3103001250"}]}) is None
    if looks_like_card_number(code):  # about one GTIN in ten: refused outside barcode fields
        assert find_card_number({"note": code}) == "note"


@given(pans)
def test_a_card_number_in_a_barcode_field_passes_only_in_gtin_shape(pan: str) -> None:
    # 13 or 14 digits there may be a mistyped GTIN: the barcode parser names its check digit instead;
    # 16-19 digits pass only as a GS1 element string, AI 01 then a valid GTIN-14
    gs1 = pan.startswith("01") and len(pan) >= 16 and gtin(pan[2:15]) == pan[2:16]
    passes = len(pan) in (13, 14) or gs1
    assert (find_card_number({"code": pan}) is None) == passes
    assert (find_card_number({"barcodes": ["4006381333931", pan]}) is None) == passes
    assert find_card_number({"reference": pan}) == "reference"  # anywhere else, refused


def test_numbers_nested_values_and_integers_are_searched() -> None:
    pan = "4111111111111111"
    assert find_card_number({"a": {"b": [{"c": 1}, {"d": int(pan)}]}}) == "a.b[1].d"
    assert find_card_number([{"x": "ok"}, pan]) == "[1]"
    assert find_card_number({"amount_minor": 4000, "ok": True, "none": None}) is None


# -- through the API ---------------------------------------------------------------------------------

def _refused(resp, field: str) -> None:
    assert resp.status_code == 422, resp.json
    assert resp.json["error"] == {"code": "card_number", "message": CARD_NUMBER_MESSAGE, "field": field}


def test_every_json_body_is_guarded_before_its_route(client: FlaskClient, h: dict) -> None:
    pan = "5555 5555 5555 4444"
    sale = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "X", "qty": 1}],
            "tenders": [{"kind": "card", "amount_minor": 100, "reference": pan}]}
    _refused(client.post("/api/v1/sales", json=sale, headers=h["cashier"]), "tenders[0].reference")
    ret = {"id": str(uuid.uuid4()), "register_id": "till-1", "receipt_code": "S00000001",
           "lines": [{"sale_line_no": 1, "qty": 1, "reason": "other", "condition": "resellable", "note": f"card {pan}"}]}
    _refused(client.post("/api/v1/returns", json=ret, headers=h["cashier"]), "lines[0].note")
    _refused(client.patch("/api/v1/items/MUG", json={"name": "Mug", "description": {"x": [pan]}}, headers=h["owner"]),
             "description.x[0]")
    # refused before the role check too: nothing of the value reaches any route, even an unauthenticated one
    _refused(client.post("/api/v1/stored-value", json={"kind": "gift_card", "amount_minor": 1, "code": pan}),
             "code")


def test_the_value_is_never_logged_or_stored(client: FlaskClient, h: dict, svc: HubService, caplog) -> None:
    pan = "378282246310005"
    resp = client.post("/api/v1/sales/quote", json={"lines": [{"sku": pan, "qty": 1}]}, headers=h["cashier"])
    _refused(resp, "lines[0].sku")
    assert pan not in caplog.text and pan not in resp.get_data(as_text=True)
    dump = "\n".join(svc.db.conn.iterdump())
    assert pan not in dump


def test_query_strings_are_guarded_too_with_the_barcode_rule(client: FlaskClient, h: dict, caplog) -> None:
    pan = "4111111111111111"
    _refused(client.get(f"/api/v1/items?q={pan}", headers=h["cashier"]), "q")
    _refused(client.get(f"/api/v1/lookup?code={pan}", headers=h["cashier"]), "code")  # 16 digits: no GTIN
    code = next(c for c in (gtin(f"400000000{n:03d}") for n in range(100)) if luhn_ok(c))
    assert client.get(f"/api/v1/lookup?code={code}", headers=h["cashier"]).status_code == 404  # a barcode: asked
    assert client.get(f"/api/v1/items?q={code}", headers=h["cashier"]).status_code == 200  # searched by barcode
    assert pan not in caplog.text


def test_a_csv_file_is_guarded_naming_row_and_column_and_nothing_applies(client: FlaskClient, h: dict) -> None:
    pan = "5555-5555-5555-4444"
    code = next(c for c in (gtin(f"400000001{n:03d}") for n in range(100)) if luhn_ok(c))
    csv_text = ("sku,name,unit,price,tax_category,barcodes\n"
                f"JAM,Jam,each,3.50,zero,{code}\n"
                f"HONEY,Honey paid {pan},each,4.50,zero,\n")
    resp = client.post("/api/v1/items/import", data=csv_text, content_type="text/csv", headers=h["owner"])
    _refused(resp, "row 2, column name")
    assert pan not in resp.get_data(as_text=True)
    assert client.get("/api/v1/items/JAM", headers=h["owner"]).status_code == 404
    fine = csv_text.replace(f" paid {pan}", "")  # a GTIN that happens to pass Luhn stays a barcode
    assert client.post("/api/v1/items/import", data=fine, content_type="text/csv", headers=h["owner"]).status_code == 200


def test_a_form_body_is_guarded(client: FlaskClient) -> None:
    _refused(client.post("/login", data={"username": "owner", "password": "378282246310005"}), "password")

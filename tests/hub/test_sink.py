"""The reference sink against docs/sync-protocol.md: signatures, dedupe, gaps, markers, order, changes."""

from __future__ import annotations

import gzip
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from waitress.server import create_server

from hub.cli import main as cli_main
from hub.mosquitto import free_port
from hub.service import serve
from hub.sink import MAX_DECOMPRESSED, Rejects, close_sink, create_sink_app
from hub.sink_changes import RateLimit
from hub.sink_store import SinkStore, add_runs, summarize
from hub.sync_protocol import sign, sign_get

SECRET = "sink-secret"
HUB = "shop-1"


def event(seq: int, type_: str = "sale.completed", hub: str = HUB, id_: str | None = None) -> dict[str, Any]:
    return {"id": id_ or f"ev-{hub}-{seq}", "hub_id": hub, "seq": seq, "type": type_,
            "occurred_at": "2026-11-27T10:15:03.120Z", "v": 1, "data": {"n": seq, "note": "<b>ü</b>"}}


def marker(seq: int, reason: str = "rejected") -> dict[str, Any]:
    return {"seq": seq, "id": f"ev-{HUB}-{seq}", "type": "sale.completed", "reason": reason, "detail": "422 bad sku"}


def post(client: FlaskClient, events: list[dict[str, Any]], markers: list[dict[str, Any]] | None = None,
         hub: str = HUB, secret: str = SECRET, ts: int | None = None, compress: bool = False) -> Any:
    body = json.dumps({"hub_id": hub, "batch_id": str(uuid.uuid4()), "events": events,
                       "set_aside": markers or []}).encode()
    headers = {"X-Backroom-Hub": hub, "Content-Type": "application/json"}
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    stamp = str(ts if ts is not None else int(time.time()))
    headers |= {"X-Backroom-Timestamp": stamp, "X-Backroom-Signature": sign(secret, stamp, body)}
    return client.post("/v1/events", data=body, headers=headers)


def ordered(client: FlaskClient, after: int = 0, limit: int = 1000, hub: str = HUB) -> dict[str, Any]:
    answer = client.get(f"/v1/hubs/{hub}/events?after={after}&limit={limit}")
    assert answer.status_code == 200
    result: dict[str, Any] = answer.get_json()
    return result


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    application = create_sink_app(tmp_path / "sink", SECRET, changes_per_minute=0)
    yield application
    close_sink(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_a_batch_is_stored_and_acknowledged(client: FlaskClient) -> None:
    answer = post(client, [event(s) for s in (1, 2, 3)])
    assert answer.status_code == 200
    assert answer.get_json() == {"acked_seq": 3, "received": [], "missing": [], "accepted": 3, "duplicates": 0}
    got = ordered(client)
    assert [e["seq"] for e in got["events"]] == [1, 2, 3] and got["acked_seq"] == 3
    assert got["events"][0] == event(1)  # the envelope comes back as sent, data included


def test_signature_timestamp_and_hub_header_are_checked(client: FlaskClient) -> None:
    assert post(client, [event(1)], secret="wrong").status_code == 401
    stale = post(client, [event(1)], ts=int(time.time()) - 301)
    assert stale.status_code == 401 and "replay window" in stale.get_json()["error"]["message"]
    body = json.dumps({"hub_id": HUB, "events": [event(1)]}).encode()
    ts = str(int(time.time()))
    no_hub = client.post("/v1/events", data=body, headers={"X-Backroom-Timestamp": ts,
                                                             "X-Backroom-Signature": sign(SECRET, ts, body)})
    assert no_hub.status_code == 401 and "X-Backroom-Hub" in no_hub.get_json()["error"]["message"]
    assert ordered(client)["acked_seq"] == 0


def test_gzip_is_verified_before_it_is_inflated_and_capped(client: FlaskClient) -> None:
    assert post(client, [event(1), event(2)], compress=True).get_json()["acked_seq"] == 2
    bomb = gzip.compress(b" " * (MAX_DECOMPRESSED + 1))
    ts = str(int(time.time()))
    headers = {"X-Backroom-Hub": HUB, "Content-Encoding": "gzip", "X-Backroom-Timestamp": ts}
    unsigned = client.post("/v1/events", data=bomb, headers=headers | {"X-Backroom-Signature": "sha256=00"})
    assert unsigned.status_code == 401  # refused on the signature, not on what the bytes would inflate to
    signed = client.post("/v1/events", data=bomb, headers=headers | {"X-Backroom-Signature": sign(SECRET, ts, bomb)})
    assert signed.status_code == 413 and signed.get_json()["error"]["code"] == "too_large"


def test_resent_events_are_kept_once(client: FlaskClient) -> None:
    post(client, [event(s) for s in range(1, 6)])
    again = post(client, [event(s) for s in range(3, 9)]).get_json()
    assert again["accepted"] == 3 and again["duplicates"] == 3 and again["acked_seq"] == 8
    assert [e["seq"] for e in ordered(client)["events"]] == list(range(1, 9))


def test_a_seq_holding_another_event_is_a_clash_and_nothing_is_stored(client: FlaskClient) -> None:
    post(client, [event(1), event(2)])
    clash = post(client, [event(2, id_="impostor"), event(3)])
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "seq_clash"
    assert "impostor" in clash.get_json()["error"]["message"]
    assert ordered(client)["acked_seq"] == 2  # seq 3 of the refused batch was not stored either


def test_gaps_are_reported_and_ordered_reads_stop_at_them(client: FlaskClient) -> None:
    post(client, [event(s) for s in (1, 2, 3)])
    answer = post(client, [event(s) for s in (6, 7, 9)]).get_json()
    assert answer["acked_seq"] == 3
    assert answer["received"] == [[6, 7], [9, 9]] and answer["missing"] == [[4, 5], [8, 8]]
    assert [e["seq"] for e in ordered(client)["events"]] == [1, 2, 3]
    answer = post(client, [event(4), event(5), event(8)]).get_json()
    assert answer == {"acked_seq": 9, "received": [], "missing": [], "accepted": 3, "duplicates": 0}
    page = ordered(client, after=2, limit=4)
    assert [e["seq"] for e in page["events"]] == [3, 4, 5, 6] and page["has_more"] and page["next_after"] == 6
    assert [e["seq"] for e in ordered(client, after=6)["events"]] == [7, 8, 9]


def test_a_marker_fills_its_gap_until_the_event_replaces_it(client: FlaskClient) -> None:
    answer = post(client, [event(1), event(3)], [marker(2)]).get_json()
    assert answer["acked_seq"] == 3
    shown = ordered(client)["events"]
    assert shown[1] == {"hub_id": HUB, "seq": 2, "id": f"ev-{HUB}-2", "type": "sale.completed",
                        "set_aside": {"reason": "rejected", "detail": "422 bad sku"}}
    assert post(client, [], [marker(2)]).get_json()["duplicates"] == 1  # announced twice: still one
    assert post(client, [event(2, id_="other")]).status_code == 409
    replayed = post(client, [event(2)]).get_json()
    assert replayed["accepted"] == 1 and replayed["acked_seq"] == 3
    assert ordered(client)["events"][1] == event(2)
    hub = client.get("/v1/hubs").get_json()["hubs"][0]
    assert (hub["events"], hub["set_aside"]) == (3, 0)
    assert client.get(f"/v1/hubs/{HUB}/set-aside").get_json()["set_aside"] == []


def test_rejects_refuse_chosen_events_with_their_seq_and_store_nothing(app: Flask, client: FlaskClient) -> None:
    app.extensions["sink_rejects"].types.add("stock.adjusted")
    answer = post(client, [event(1), event(2, "stock.adjusted"), event(3)])
    assert answer.status_code == 422
    assert [r["seq"] for r in answer.get_json()["rejected"]] == [2]
    assert ordered(client)["acked_seq"] == 0
    app.extensions["sink_rejects"].types.clear()
    app.extensions["sink_rejects"].hook = lambda e: "odd seqs refused" if e["seq"] % 2 else None
    assert [r["seq"] for r in post(client, [event(1), event(2), event(3)]).get_json()["rejected"]] == [1, 3]
    app.extensions["sink_rejects"].hook = None
    assert post(client, [event(1), event(2), event(3)]).get_json()["acked_seq"] == 3


def test_rejects_by_seq(tmp_path: Path) -> None:
    app = create_sink_app(tmp_path, SECRET, rejects=Rejects(seqs={5}))
    try:
        answer = post(app.test_client(), [event(s) for s in range(1, 8)])
        assert answer.status_code == 422 and answer.get_json()["rejected"][0]["seq"] == 5
    finally:
        close_sink(app)


def test_malformed_batches_are_refused_with_the_field(client: FlaskClient) -> None:
    bad = [({**event(1), "seq": "1"}, "events[0].seq"), ({**event(1), "hub_id": "other"}, "events[0]"),
           ({**event(1), "seq": 0}, "events[0]"), ({k: v for k, v in event(1).items() if k != "data"}, "events[0]")]
    for ev, field in bad:
        answer = post(client, [ev])
        assert answer.status_code == 400 and answer.get_json()["error"]["field"] == field, ev
    assert post(client, [event(1)], [{"seq": 2}]).get_json()["error"]["field"] == "set_aside[0]"
    assert ordered(client)["acked_seq"] == 0


def test_the_page_lists_hubs_and_escapes_what_they_sent(client: FlaskClient) -> None:
    evil = "<script>x</script>"
    post(client, [event(1, hub=evil), event(3, hub=evil)], hub=evil)
    post(client, [event(1), event(2)], [{**marker(3), "detail": "<img src=x>"}])
    page = client.get("/").get_data(as_text=True)
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;img src=x&gt;" in page
    assert ">2</td>" in page  # the gap of the evil hub


# -- range bookkeeping, any order ------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_order_of_batches_gives_the_contiguous_prefix_and_exact_ranges(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 40))
    held = data.draw(st.lists(st.integers(1, n), unique=True))
    # each held seq comes as its event, as a marker, or as both (a replayed dead letter), in any order
    kinds = {s: data.draw(st.sampled_from(["event", "marker", "both"])) for s in held}
    sends = [(s, k == "marker") for s, k in kinds.items() if k != "both"]
    sends += [(s, m) for s, k in kinds.items() if k == "both" for m in (True, False)]
    sends += data.draw(st.lists(st.sampled_from(sends), max_size=10)) if sends else []  # resent
    order = data.draw(st.permutations(sends))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(order)), max_size=6)))
    batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        store = SinkStore(Path(tmp) / "s.sqlite3", durable=False)
        try:
            for batch in batches:
                result = store.ingest(HUB, [event(s) for s, m in sorted(set(batch)) if not m],
                                      [marker(s) for s, m in sorted(set(batch)) if m])
            expected_acked = next(i for i in range(n + 2) if i + 1 not in kinds)
            state = store.state(HUB)
            assert state.acked_seq == expected_acked
            above = sorted(s for s in held if s > expected_acked)
            assert [s for lo, hi in state.received for s in range(lo, hi + 1)] == above
            top = above[-1] if above else expected_acked
            missing = [s for s in range(expected_acked + 1, top) if s not in kinds]
            assert [s for lo, hi in state.missing for s in range(lo, hi + 1)] == missing
            if batches:
                assert result.acked_seq == expected_acked
            text, acked, _ = store.ordered_json(HUB, 0, 1000)
            shown = json.loads(text)
            assert [e["seq"] for e in shown] == list(range(1, acked + 1))
            assert all(("set_aside" in e) == (kinds[e["seq"]] == "marker") for e in shown)
            if held:
                hub = store.hubs()[0]
                assert hub["events"] == sum(k != "marker" for k in kinds.values())
                assert hub["set_aside"] == sum(k == "marker" for k in kinds.values())
        finally:
            store.close()


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 5)), max_size=8), st.lists(st.integers(1, 60)))
def test_add_runs_merges_to_sorted_disjoint_non_adjacent_runs(pairs: list[tuple[int, int]], seqs: list[int]) -> None:
    existing = add_runs([], [s for lo, w in pairs for s in range(lo, lo + w + 1)])
    merged = add_runs(existing, seqs)
    covered = {s for lo, hi in merged for s in range(lo, hi + 1)}
    assert covered == {s for lo, hi in existing for s in range(lo, hi + 1)} | set(seqs)
    assert all(a[1] + 1 < b[0] for a, b in zip(merged, merged[1:], strict=False))
    acked, received, missing = summarize(merged)
    assert acked == (merged[0][1] if merged and merged[0][0] == 1 else 0)
    assert len(missing) == len(received)


# -- the change feed ---------------------------------------------------------------------------------

def signed_get(client: FlaskClient, target: str, hub: str = HUB, secret: str = SECRET) -> Any:
    ts = str(int(time.time()))
    return client.get(target, headers={"X-Backroom-Hub": hub, "X-Backroom-Timestamp": ts,
                                       "X-Backroom-Signature": sign_get(secret, ts, target)})


def signed_post(client: FlaskClient, path: str, body: Any) -> Any:
    raw = json.dumps(body).encode()
    ts = str(int(time.time()))
    return client.post(path, data=raw, headers={"X-Backroom-Hub": HUB, "X-Backroom-Timestamp": ts,
                                                "X-Backroom-Signature": sign(SECRET, ts, raw)})


def test_changes_page_with_an_opaque_cursor(client: FlaskClient) -> None:
    changes = [{"type": "price.set", "sku": f"D{i}", "price_minor": 100 + i} for i in range(5)]
    added = signed_post(client, f"/v1/hubs/{HUB}/changes", {"changes": changes})
    assert added.status_code == 201 and added.get_json()["added"] == 5
    first = signed_get(client, f"/v1/hubs/{HUB}/changes?cursor=&limit=2").get_json()
    assert [c["sku"] for c in first["changes"]] == ["D0", "D1"] and first["has_more"]
    assert first["changes"][0]["tier"] == "retail" and first["changes"][0]["id"]
    second = signed_get(client, f"/v1/hubs/{HUB}/changes?cursor={first['next_cursor']}&limit=10").get_json()
    assert [c["sku"] for c in second["changes"]] == ["D2", "D3", "D4"] and not second["has_more"]
    empty = signed_get(client, f"/v1/hubs/{HUB}/changes?cursor={second['next_cursor']}&limit=10").get_json()
    assert empty == {"changes": [], "next_cursor": second["next_cursor"], "has_more": False}
    again = signed_post(client, f"/v1/hubs/{HUB}/changes", {"changes": [first["changes"][0]]})
    assert again.get_json()["added"] == 0  # a change id is kept once
    assert signed_get(client, f"/v1/hubs/{HUB}/changes?cursor=nonsense").status_code == 400


def test_a_change_feed_answer_is_signed_over_its_body(client: FlaskClient) -> None:
    signed_post(client, f"/v1/hubs/{HUB}/changes", {"type": "item.deactivate", "sku": "D1"})
    resp = signed_get(client, f"/v1/hubs/{HUB}/changes?cursor=&limit=10")
    ts, body = resp.headers["X-Backroom-Timestamp"], resp.get_data()
    assert abs(int(ts) - time.time()) < 60 and resp.get_json()["changes"][0]["sku"] == "D1"
    assert resp.headers["X-Backroom-Signature"] == sign(SECRET, ts, body)


def test_changes_are_signed_and_per_hub(client: FlaskClient) -> None:
    signed_post(client, f"/v1/hubs/{HUB}/changes", {"type": "item.deactivate", "sku": "D1"})
    assert client.get(f"/v1/hubs/{HUB}/changes").status_code == 401
    assert signed_get(client, f"/v1/hubs/{HUB}/changes", secret="wrong").status_code == 401
    assert signed_get(client, f"/v1/hubs/{HUB}/changes", hub="shop-2").status_code == 401
    assert signed_get(client, "/v1/hubs/shop-2/changes", hub="shop-2").get_json()["changes"] == []
    bad = signed_post(client, f"/v1/hubs/{HUB}/changes", {"changes": [{"type": "price.set", "sku": "D1"}]})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "changes[0].price_minor"


def test_the_change_feed_answers_429_with_retry_after_over_its_rate(app: Flask, client: FlaskClient) -> None:
    now = [1000.0]
    app.extensions["sink_rate_limit"].__init__(60, burst=2, clock=lambda: now[0])
    target = f"/v1/hubs/{HUB}/changes"
    assert [signed_get(client, target).status_code for _ in range(3)] == [200, 200, 429]
    limited = signed_get(client, target)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    now[0] += 1.0  # one request per second refills
    assert signed_get(client, target).status_code == 200
    assert RateLimit(0).retry_after("x") == 0  # 0 turns it off


def test_sink_change_command_puts_a_change_in_a_running_sink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = create_sink_app(tmp_path, SECRET)
    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port)
    stopping = threading.Event()
    thread = threading.Thread(target=serve, args=(server, stopping), daemon=True)
    thread.start()
    try:
        assert cli_main(["sink", "change", "--hub", HUB, "--sku", "D1001", "--field", "price_minor=249",
                         "--field", "name=Oat milk 1 l", "--port", str(port), "--secret", SECRET]) == 0
        assert json.loads(capsys.readouterr().out)["added"] == 1
        file = tmp_path / "changes.json"
        file.write_text(json.dumps({"changes": [{"type": "barcode.add", "sku": "D1001", "code": "4006381333931"}]}))
        assert cli_main(["sink", "change", "--hub", HUB, "--file", str(file), "--port", str(port),
                         "--secret", SECRET]) == 0
        assert cli_main(["sink", "change", "--hub", HUB, "--sku", "D1", "--type", "price.set", "--port", str(port),
                         "--secret", SECRET]) == 2  # price.set needs price_minor: the sink's 400 is shown
        assert "price_minor" in capsys.readouterr().err
        page = app.extensions["sink_changes"].page(HUB, "", 10)
        assert page["changes"][0]["fields"] == {"price_minor": 249, "name": "Oat milk 1 l"}
        assert page["changes"][1]["code"] == "4006381333931"
    finally:
        stopping.set()
        thread.join(10)
        close_sink(app)

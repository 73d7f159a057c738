"""Live channels: fan-out to streams, bounded queues, pings, and a clean end at shutdown."""

import json

from hub.live import QUEUE_SIZE, Channels, sse_stream


def test_events_reach_only_their_channel_and_a_stalled_stream_keeps_the_newest() -> None:
    ch = Channels()
    a, b = ch.subscribe("register:till-1"), ch.subscribe("register:till-2")
    assert ch.publish("register:till-1", "scan", {"n": 1}) == 1
    assert b.queue.empty()
    for n in range(2, QUEUE_SIZE + 10):
        ch.publish("register:till-1", "scan", {"n": n})
    got = [json.loads(a.queue.get_nowait()[1])["n"] for _ in range(a.queue.qsize())]
    assert len(got) == QUEUE_SIZE and got[-1] == QUEUE_SIZE + 9  # the oldest went, the newest stayed
    a.close()
    b.close()
    assert ch.publish("register:till-1", "scan", {}) == 0


def test_stream_opens_at_once_pings_when_quiet_and_ends_on_close_all() -> None:
    ch = Channels()
    sub = ch.subscribe("register:till-1")
    stream = sse_stream(sub, heartbeat_s=0.01)
    assert next(stream) == b": connected\n\n"
    assert next(stream) == b"event: ping\ndata: {}\n\n"
    ch.publish("register:till-1", "job", {"ok": True})
    assert next(stream) == b'event: job\ndata: {"ok":true}\n\n'
    ch.close_all()
    assert list(stream) == []
    assert ch.publish("register:till-1", "job", {}) == 0  # the stream unsubscribed itself

"""SSE resume: a stream reconnecting with Last-Event-ID (or ?since=<id>)
gets exactly the retained messages after that id, then live ones; a
foreign epoch gets a hub.reset notice per topic, then live messages.

On a stream with several topics the one Last-Event-ID is the client's only
cursor, so the replay must come in seq order across topics: replayed topic
by topic, a client that drops mid-replay and reconnects with the last id
it saw skips the other topics' older messages for good."""

from fhtest import Fanhubd, SSEReader, check, curl_publish, run

PLAN = [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2"), ("b", "b3"),
        ("a", "a3"), ("a", "a4\nsecond line"), ("b", "b4")]


def read_n(port, path, n, headers=()):
    rd = SSEReader(port, path, headers=headers)
    try:
        got = [rd.next_event() for _ in range(n)]
        extra = rd.read_for(0.3)
        check(not extra, f"{path} {headers}: extra events {extra}")
        return got
    finally:
        rd.close()


def main():
    with Fanhubd() as fh:
        live = SSEReader(fh.port, "/sse?topic=a&topic=b")
        live.wait_comment("connected")
        seqs = [curl_publish(fh.port, t, p) for t, p in PLAN]
        events = [live.next_event() for _ in PLAN]
        live.close()
        epoch = events[0][0].split("-")[0]
        for (t, p), s, ev in zip(PLAN, seqs, events):
            check(ev == (f"{epoch}-{s}", t, p), f"live {ev} != {t} {s} {p}")

        # One topic: after each id, the rest of that topic, exactly.
        a_events = [e for e in events if e[1] == "a"]
        for k, ev in enumerate(a_events):
            want = a_events[k + 1:]
            got = read_n(fh.port, "/sse?topic=a", len(want),
                         [f"Last-Event-ID: {ev[0]}"])
            check(got == want, f"resume a after {ev[0]}: {got}")
            got = read_n(fh.port, f"/sse?topic=a&since={ev[0]}", len(want))
            check(got == want, f"?since={ev[0]} on a: {got}")
        # A bare seq works as ?since= too.
        got = read_n(fh.port, f"/sse?topic=b&since={seqs[1]}", 3)
        check(got == [e for e in events if e[1] == "b"][1:],
              f"?since={seqs[1]} on b: {got}")

        # Foreign epoch: a reset notice for each topic, then live.
        rd = SSEReader(fh.port, "/sse?topic=a&topic=b",
                       headers=["Last-Event-ID: 0123456789abcdef-1"])
        resets = [rd.next_event(), rd.next_event()]
        check([e[1] for e in resets] == ["hub.reset", "hub.reset"],
              f"foreign epoch: {resets}")
        check(all('"reason":"epoch-changed"' in e[2] for e in resets),
              f"reset reason: {resets}")
        check({'"topic":"a"' in resets[0][2] or '"topic":"a"' in resets[1][2],
               '"topic":"b"' in resets[0][2] or '"topic":"b"' in resets[1][2]}
              == {True}, f"reset notices do not name both topics: {resets}")
        s = curl_publish(fh.port, "a", "after reset")
        check(rd.next_event() == (f"{epoch}-{s}", "a", "after reset"),
              "live delivery after reset")
        rd.close()
        events.append((f"{epoch}-{s}", "a", "after reset"))

        # Two topics: nothing lost or repeated, and in seq order.
        for k in (0, 1, 3):
            want = events[k + 1:]
            got = read_n(fh.port, "/sse?topic=a&topic=b", len(want),
                         [f"Last-Event-ID: {events[k][0]}"])
            check(sorted(got) == sorted(want),
                  f"two-topic resume after {events[k][0]} lost or repeated: "
                  f"{got}")
            ids = [int(e[0].split("-")[1]) for e in got]
            check(ids == sorted(ids),
                  f"two-topic resume after {events[k][0]} is not in seq "
                  f"order, so its Last-Event-ID cannot resume it again: "
                  f"ids {ids}")


run(main)

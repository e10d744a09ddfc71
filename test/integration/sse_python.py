"""SSE read by a spec-following Python parser (fhtest.SSEReader, raw
socket): ": connected" and "retry:" come first; event name = topic; ids are
<epoch>-<seq> with the hub's epoch (the one WebSocket hello reports) and
the seq curl got back; multi-line payloads (LF, CRLF, CR, empty lines,
leading/trailing breaks, an empty payload, text that looks like SSE fields)
reassemble exactly, up to SSE's own CR/CRLF -> LF; two topics on one
stream, and nothing from a topic it did not ask for; keepalive comments
every 200 ms. (Resume: sse_resume.py.)"""
import asyncio
import re

from fhtest import (Fanhubd, SSEReader, check, curl_publish, expect_hello,
                    run, ws_connect)

PAYLOADS = [
    ("a", "l1\nl2\nl3"),
    ("b", "crlf1\r\ncrlf2\r\ncrlf3"),
    ("a", "cr1\rcr2"),
    ("a", "mixed\n\r\n\rend"),
    ("b", "trailing\n"),
    ("b", "\nleading"),
    ("a", ""),
    ("a", "unicode \u00e9\u20ac\U0001f600 and a: colon"),
    ("b", "data: fake\n\nid: 0-999\nevent: evil\nretry: 1\n: comment"),
    ("a", "long " + "y" * 6000),
    ("b", "\r\n\r\n"),
]


def reassembled(payload):
    # SSE has no way to carry CR: every line break arrives as LF.
    return re.sub(r"\r\n|\r", "\n", payload)


def main():
    with Fanhubd("--sse-keepalive", "200") as fh:
        async def hello_epoch():
            ws = await ws_connect(fh.port)
            try:
                return (await expect_hello(ws))["epoch"]
            finally:
                await ws.close()
        epoch = asyncio.run(hello_epoch())

        rd = SSEReader(fh.port, "/sse?topic=a&topic=b")
        check(rd.status == 200, f"SSE status {rd.status}")
        ctype = rd.headers.get("content-type", [""])[0]
        check(ctype.split(";")[0].strip() == "text/event-stream",
              f"Content-Type {ctype!r}")
        # Subscribed once the preamble is there: publish after it.
        rd.wait_comment("connected")

        seqs = [curl_publish(fh.port, t, p) for t, p in PAYLOADS]
        curl_publish(fh.port, "c", "not subscribed to c")
        last = curl_publish(fh.port, "b", "last")
        events = [rd.next_event() for _ in PAYLOADS] + [rd.next_event()]

        check(rd.items[0] == ("comment", " connected"),
              f"first line is not ': connected': {rd.items[:3]}")
        check(rd.items[1] == ("field", "retry", "2000"),
              f"second line is not 'retry: 2000': {rd.items[:3]}")
        check(rd.retry == 2000, f"retry {rd.retry}")
        for (topic, payload), seq, ev in zip(PAYLOADS, seqs, events):
            want = (f"{epoch}-{seq}", topic, reassembled(payload))
            check(ev == want, f"event {ev!r:.200} != {want!r:.200}")
        check(events[-1] == (f"{epoch}-{last}", "b", "last"),
              f"last event {events[-1]}")

        # Keepalives: over 1 s at 200 ms, at least 3 and no events.
        rd.comments.clear()
        extra = rd.read_for(1.0)
        check(not extra, f"unexpected events {extra}")
        n = rd.comments.count("keepalive")
        check(n >= 3, f"{n} keepalive comments in 1 s at 200 ms: "
              f"{rd.comments}")
        rd.close()


run(main)

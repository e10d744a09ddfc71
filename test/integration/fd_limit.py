"""fanhubd out of file descriptors: with its RLIMIT_NOFILE lowered to 64
and 100 connections that send nothing, accept4() fails with EMFILE while
the last ones wait in the listen backlog. fanhubd must not spin on its
readable listener: over 2 s it uses under 20% of a core (a whole one
before it backed off), and /metrics counts the failures in
fanhubd_accept_errors_total{reason="emfile"}, at most one per 100 ms
pause. Once the idle clients close, it serves again: the /metrics request
and a new WebSocket and SSE client, under the same limit."""
import asyncio
import time

from fhtest import (Fanhubd, check, cpu_share, log, metrics, note,
                    out_of_fds, run, served_quickly)

EMFILE = 'fanhubd_accept_errors_total{reason="emfile"}'


async def main():
    # The idle clients are held for the whole test, not cut by the
    # handshake timeout (10 s) on a slow machine.
    with Fanhubd("--handshake-timeout", 60000) as fh:
        pid = fh.proc.pid
        t0 = time.monotonic()
        with out_of_fds(pid, fh.port):
            share = cpu_share(pid, 2.0)
        note(f"fd_limit: fanhubd out of descriptors used {share:.1%} of a "
             f"core over 2 s")
        check(share < 0.2, f"fanhubd used {share:.0%} of a core while out "
              f"of descriptors: it spins on its listener")

        # The idle clients are gone: the listener comes back within a pause.
        m = await asyncio.to_thread(metrics, fh.port)
        took = time.monotonic() - t0
        errors = m.get(EMFILE)
        check(errors is not None, f"no {EMFILE} in /metrics")
        log(f"{errors:.0f} EMFILE in {took:.2f}s out of descriptors")
        check(1 <= errors <= took / 0.1 + 2,
              f"{errors:.0f} EMFILE in {took:.2f}s: not one per 100 ms pause")
        for reason in ("enfile", "enobufs", "enomem"):
            name = f'fanhubd_accept_errors_total{{reason="{reason}"}}'
            check(m.get(name) == 0, f"{name} is {m.get(name)}")

        took = await served_quickly(fh.port, "after", limit=5.0)
        log(f"served a WS and an SSE client {took:.2f}s after recovery")


run(main)

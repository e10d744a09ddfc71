# Turns bench/results/storm.json into storm.md: jq -r -f storm.jq
def r(d): if . == null then "–" else ((. * pow(10; d) | round) / pow(10; d) | tostring) end;
def kps: if . == null then "–" else ((. / 100 | round) / 10 | tostring) + "k" end;
def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;
def x: if . == null then "–" else (r(2) + "×") end;
def yes(c): if c == null then "n/a" elif c then "**met**" else "**not met**" end;
def row: "| " + join(" | ") + " |";
def median: sort | if length == 0 then null
  elif length % 2 == 1 then .[length / 2 | floor]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
# "18.2k (16.1k-19.9k)": the median of a list and its range
def ranged(f): if length == 0 then "–"
  else "\(median | f) (\(min | f)-\(max | f))" end;
def sum: reduce .[] as $v (0; . + $v);
# failed attempts after the server was up: every kind counts
def failed: .failures | [.[]] | sum;
# SYNs to a listening socket dropped: ListenDrops counts every cause
# (a full accept queue, ListenOverflows, among them)
def drops: .kernel.ListenDrops;
def servername(s):
  if s == "fanhub" then "fanhub"
  elif s == "fanhub-before" then "fanhub (before)"
  else "nginx+nchan" end;

. as $all
| [$all.runs[] | select(.record == "storm")] as $waves
| ([$waves[].server] | unique | sort_by(if . == "fanhub" then 0 elif . == "fanhub-before" then 1 else 2 end)) as $servers
| def w(s; p; v): [$waves[] | select(.server == s and .proto == p and .wave == v)];

"# fanhub connect storm: latest run",
"",
"Machine: \(.machine.nproc) CPUs (\(.machine.cpu)), \(.machine.mem_mb) MiB, \(.machine.kernel); net.core.somaxconn \(.machine.somaxconn), tcp_max_syn_backlog \(.machine.tcp_max_syn_backlog), open files \(.machine.nofile) per process.",
"Run \(.date), fanhub commit `\(.fanhub_commit)`" +
  (if .fanhub_dirty_files > 0 then " with \(.fanhub_dirty_files) uncommitted file(s) in lib/include/examples/loadgen" else "" end) +
  ", nginx \(.nginx), nchan \(.nchan); the run took \(.seconds) s. Processes outside the benchmark used \(.machine.other_cpu_s) CPU-s of the \(.machine.nproc * .seconds) available (load average \(.machine.loadavg_before) before, \(.machine.loadavg_after) after).",
"",
"\(.storm.subs) subscribers, all at once (`loadgen --connecting 0`, from \(.storm.source_addrs) source addresses), to fanhubd with 2 shards and nginx+nchan with 2 workers, listen backlog \(.storm.backlog) (capped by somaxconn); \(.storm.reps) fresh starts of each server per protocol, alternating, each with three waves. *fresh*: the server has just started; *restart*: then the server is killed (SIGKILL) and started again on the same port while every subscriber reconnects, retrying after \(.storm.retry_ms | split(":") | "\(.[0] | tonumber / 2)-\(.[0]) ms, doubling up to \(.[1]) ms") with jitter; *stalled*: then every subscriber closes and all reconnect at once to the server stopped (SIGSTOP) for \(.storm.stall_ms) ms after the first connect(), so the storm waits in its listen queue. The load generator (one thread) and the server share the \(.machine.nproc) CPUs. How to read each figure: [bench/README.md](../README.md#connect-storm-make-bench-storm)." +
  (if .storm.before then " *fanhub (before)* is `\(.storm.before.binary)`: \(.storm.before.what)." else "" end),
"",
"## Targets of issue 19",
"",
"| target | cell | fanhub | nchan | ratio | |",
"|---|---|---|---|---|---|",
( (["ws", "sse"][]) as $p | (["fresh", "restart", "stalled"][]) as $v
  | [w("fanhub"; $p; $v)[].conn_per_s] as $f
  | [w("nchan"; $p; $v)[].conn_per_s] as $c
  | ["connections/s ≥ 2× nchan", "\($p) \($v), median of \($f | length) and \($c | length)",
     ($f | ranged(kps)) + "/s", ($c | ranged(kps)) + "/s",
     (ratio($f | median; $c | median) | x),
     yes(if ($f | length) > 0 and ($c | length) > 0 then ratio($f | median; $c | median) >= 2 else null end)] | row
),
( (["ws", "sse"][]) as $p
  | [$waves[] | select(.server == "fanhub" and .proto == $p)] as $f
  | [$waves[] | select(.server == "nchan" and .proto == $p)] as $c
  | ($f | map(failed + .timed_out) | sum) as $fb
  | ($c | map(failed + .timed_out) | sum) as $cb
  | ["no client refused or timed out (no caps configured)", "\($p), \($f | length) waves of \($all.storm.subs)",
     "\($fb) (\($f | map(.timed_out) | sum) timed out)", "\($cb) (\($c | map(.timed_out) | sum) timed out)", "",
     yes(if ($f | length) > 0 then $fb == 0 and ($f | length) == 3 * $all.storm.reps else null end)] | row
),
( (["ws", "sse"][]) as $p
  | [w("fanhub"; $p; "fresh")[].rss_idle_per_conn_b] as $f
  | [w("nchan"; $p; "fresh")[].rss_idle_per_conn_b] as $c
  | ["idle ≤ 1 KiB per subscriber, worst fresh start", "\($p), \($f | length) starts",
     ($f | max | r(0)) + " B (each: " + ($f | map(r(0)) | join(", ")) + ")",
     ($c | max | r(0)) + " B", (ratio($f | max; $c | max) | x),
     yes(if ($f | length) > 0 then ($f | max) <= 1024 else null end)] | row
),
"",
"## Side by side",
"",
"Medians over the starts (range in brackets). *conn/s*: subscribers with their response head, divided by the time from when the server could take connections (fresh: the first connect(); restart: the first connection to the new server; stalled: the SIGCONT) to the last response head. *last*: from the first connect() (fresh, stalled) or from the moment the server went away (restart) to the last response head. *up*: restart only, from the server going away to its first new connection (the kill, the script, the server's start). *per client*: a subscriber's own wait, from its first try (or the server's return, if later) to its response head. *attempt p99*, *≥ 1 s*: the successful attempts' own time from connect() to response head, back-off waits left out; one over a second had a SYN dropped and sent again (for stalled, every attempt waits out the stall). *probe*: from the last response head until every subscriber got a published probe. *failed*: failed attempts once the server was up (refused, reset, HTTP error, dropped), and subscribers never subscribed (*timed out*); attempts that failed while the server was away are in *while down*. *SYN drops*: the kernel's ListenDrops over the wave (SYNs to a listening socket dropped, a full accept queue among the causes; the whole machine). *server CPU*, *machine CPU*: per subscriber, the server's processes (utime + stime) and the whole machine (/proc/stat, softirqs and other processes included).",
"",
"| proto | wave | server | conn/s | last s | up s | per client p50 / p99 / max ms | attempt p99 ms | ≥ 1 s | probe s | failed | timed out | while down | SYN drops | server CPU µs | machine CPU µs | RSS B per idle sub, worst |",
"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
( (["ws", "sse"][]) as $p | (["fresh", "restart", "stalled"][]) as $v | $servers[] as $s
  | w($s; $p; $v) as $r
  | select($r | length > 0)
  | [$p, $v, servername($s),
     ($r | map(.conn_per_s) | ranged(kps)),
     ($r | map(.last_s) | ranged(r(2))),
     (if $v == "restart" then ($r | map(.up_s) | ranged(r(2))) else "" end),
     "\($r | map(.sub_ms.p50) | median | r(1)) / \($r | map(.sub_ms.p99) | median | r(1)) / \($r | map(.sub_ms.max) | max | r(0))",
     ($r | map(.attempt_ms.p99) | median | r(1)),
     ($r | map(.attempts_over_1s) | sum | tostring),
     ($r | map(.probe_s) | ranged(r(2))),
     ($r | map(failed) | sum | tostring),
     ($r | map(.timed_out) | sum | tostring),
     ($r | map(.while_down | [.[]] | sum) | sum | tostring),
     ($r | map(drops) | sum | tostring),
     ($r | map(.server_cpu_us_per_conn // empty) | ranged(r(0))),
     ($r | map(select(.subscribed > 0) | .machine_busy_s / .subscribed * 1e6) | ranged(r(0))),
     (if $v == "fresh" then ($r | map(.rss_idle_per_conn_b) | max | r(0)) else "" end)] | row
),
"",
( if ($servers | index("fanhub-before")) then
  "## Before and after\n\nfanhub against *fanhub (before)*, same run, medians (range); SYN drops and attempts over 1 s summed over the starts.\n\n| proto | wave | conn/s | before | ratio | last s | before | SYN drops | before | attempts ≥ 1 s | before | server CPU µs | before |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ( (["ws", "sse"][]) as $p | (["fresh", "restart", "stalled"][]) as $v
    | [w("fanhub"; $p; $v)[]] as $a | [w("fanhub-before"; $p; $v)[]] as $b
    | [$p, $v, ($a | map(.conn_per_s) | ranged(kps)), ($b | map(.conn_per_s) | ranged(kps)),
       (ratio($a | map(.conn_per_s) | median; $b | map(.conn_per_s) | median) | x),
       ($a | map(.last_s) | ranged(r(2))), ($b | map(.last_s) | ranged(r(2))),
       ($a | map(drops) | sum | tostring), ($b | map(drops) | sum | tostring),
       ($a | map(.attempts_over_1s) | sum | tostring), ($b | map(.attempts_over_1s) | sum | tostring),
       ($a | map(.server_cpu_us_per_conn // empty) | ranged(r(0))),
       ($b | map(.server_cpu_us_per_conn // empty) | ranged(r(0)))] | row ),
  ""
  else empty end ),
"## Every wave",
"",
"In run order. Restart s: the script's own time from the kill to the new server listening.",
"",
"| start | proto | server | wave | subscribed | conn/s | last s | up s | restart s | per client p50 / p99 / max ms | attempt p99 ms | ≥ 1 s | attempts | failed | timed out | while down | SYN drops | SYN retrans | server CPU µs | loadgen CPU s | machine busy s / wall s | RSS B per idle sub |",
"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
( $waves[]
  | ["\(.rep)", .proto, servername(.server), .wave, "\(.subscribed)", (.conn_per_s | kps),
     (.last_s | r(2)), (if .wave == "restart" then (.up_s | r(2)) else "" end),
     (.restart_s // null | if . == null then "" else r(2) end),
     "\(.sub_ms.p50 | r(1)) / \(.sub_ms.p99 | r(1)) / \(.sub_ms.max | r(0))",
     (.attempt_ms.p99 | r(1)), "\(.attempts_over_1s)",
     "\(.attempts)", "\(failed)" + (if failed > 0 then " (" + (.failures | to_entries | map(select(.value > 0) | "\(.key) \(.value)") | join(", ")) + ")" else "" end),
     "\(.timed_out)", "\(.while_down | [.[]] | sum)", "\(drops)", "\(.kernel.RetransSegs)",
     (.server_cpu_us_per_conn | r(0)), (.loadgen_cpu_s | r(2)),
     "\(.machine_busy_s | r(2)) / \(.wave_s | r(2))",
     (.rss_idle_per_conn_b | r(0))] | row
),
"",
( [$all.runs[] | select(.record == "storm" and .first_failure != "")] as $ff
  | if ($ff | length) > 0 then
      "First failure of each wave that had one: " + ($ff | map("\(servername(.server)) \(.proto) \(.wave) start \(.rep): \(.first_failure)") | join("; ")) + "."
    else "No wave had a failure other than refusals while the server was away." end )

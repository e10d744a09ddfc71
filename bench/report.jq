# Turns bench/results/latest.json into latest.md: jq -r -f report.jq
def r(d): if . == null then "–" else ((. * pow(10; d) | round) / pow(10; d) | tostring) end;
def ms: if . == null then "–" else (. / 1000 | r(2)) end;
def kps: if . == null then "–" else ((. / 1000 | round | tostring) + "k") end;
def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;
def x: if . == null then "–" else (r(2) + "×") end;
def yes(c): if c == null then "n/a" elif c then "**met**" else "**not met**" end;
def row: "| " + join(" | ") + " |";
def median: sort | if length == 0 then null
  elif length % 2 == 1 then .[length / 2 | floor]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
# "0.97× (0.91-1.04)": the median of a list, with unit, and its range
def ranged(f; unit): if length == 0 then "–"
  else "\(median | f)\(unit) (\(min | f)-\(max | f))" end;
def spread: ranged(r(2); "×");

. as $all
| def cell(s; n; p; subs; st; size; w):
    first($all.runs[] | select((.group // "matrix") == "matrix"
      and .server == s and .shards == n and .proto == p
      and .subs == subs and .stalled == st and .size == size and .window == w)) // null;
  # Isolation: adjacent phases without (b) and with (i) the never-reader
  def iso_pairs(s; p; size):
    [$all.runs[] | select(.group == "isolation" and .server == s
      and .proto == p and .size == size and (.warmup | not))]
    | sort_by(.phase)
    | [range(0; length - 1; 2) as $k | .[$k:$k + 2]
       | {b: (map(select(.stalled == 0)) | first // null),
          i: (map(select(.stalled > 0)) | first // null)}]
    | map(select(.b != null and .i != null));
  # Saturation cells: the matrix's run and the repeats
  def sat_runs(s; n; p):
    [$all.runs[] | select(((.group // "matrix") == "matrix" or .group == "saturation")
      and .server == s and .shards == n and .proto == p and .subs == 10000
      and .stalled == 0 and .size == 64 and .window == 32)];
  # hub_broadcast(): one group per (shards, case, rate) over the rounds
  def inproc_groups:
    [$all.inproc[] | select(.shards != null)]
    | group_by([.shards, (.case | if . == "no-subscriber" then 9 else 0 end), .case, .rate])
    | map({shards: .[0].shards, case: .[0].case, rate: .[0].rate, runs: .});
  def dps_ratios: map(ratio(.i.deliveries_per_s; .b.deliveries_per_s)) | map(select(. != null));
  def p99_ratios: map(ratio(.i.lat_us.p99; .b.lat_us.p99)) | map(select(. != null));
  def servername(s; n):
    if s == "fanhub" then "fanhub \(n) shard" + (if n > 1 then "s" else "" end)
    elif s == "nchan" then "nginx+nchan \(n) worker" + (if n > 1 then "s" else "" end)
    else "ceiling \(n) thread" + (if n > 1 then "s" else "" end) end;

"# fanhub benchmark: latest run",
"",
"Machine: \(.machine.nproc) CPUs (\(.machine.cpu)), \(.machine.mem_mb) MiB, \(.machine.kernel).",
"Run \(.date), fanhub commit `\(.fanhub_commit)`" +
  (if .fanhub_dirty_files > 0 then " with \(.fanhub_dirty_files) uncommitted file(s) in lib/include/examples" else "" end) +
  ", nginx \(.nginx), nchan \(.nchan); the matrix took \(.matrix_seconds) s.",
"Everything on loopback: the load generator (one thread) and the server share the \(.machine.nproc) CPUs." +
  (if .machine.other_cpu_s != null then " Processes outside the benchmark used \(.machine.other_cpu_s) CPU-s of the \(.machine.nproc * .matrix_seconds) available during the run (load average \(.machine.loadavg_before) before, \(.machine.loadavg_after) after; per set in the *other CPU* column below)." else "" end) +
  " Matrix cells are single runs: read differences under ~20% as noise. Two figures are medians instead: saturation against the ceiling (\(sat_runs("fanhub"; 1; "ws") | length) alternating starts of each server per cell) and isolation (\(iso_pairs("fanhub"; "ws"; 64) | length) interleaved pairs of phases per cell).",
"How to read each figure: [bench/README.md](../README.md).",
"",
"## Targets of issue 10",
"",
"| target | cell | fanhub | peer | ratio | |",
"|---|---|---|---|---|---|",
( # saturation: medians over the matrix run and the repeats
  (["ws", "sse"][]) as $p | ([1, 2][]) as $n
  | sat_runs("fanhub"; $n; $p) as $fs
  | sat_runs("ceiling"; $n; $p) as $zs
  | ([$fs[].deliveries_per_s] | median) as $f
  | ([$zs[].deliveries_per_s] | median) as $z
  | cell("nchan"; $n; $p; 10000; 0; 64; 32) as $c
  | ([$fs[].writes_per_delivery // empty] | median) as $fw
  | "\($p) 10k 64 B W=32, n=\($n)" as $cellname
  | (["saturation ≥ 3× nchan", $cellname + ", fanhub median of \($fs | length)",
      ($f | kps) + "/s", ($c.deliveries_per_s | kps) + "/s",
      (ratio($f; $c.deliveries_per_s) | x),
      yes(if $f and $c then ratio($f; $c.deliveries_per_s) >= 3 else null end)] | row),
    (["saturation ≥ 0.9× ceiling", $cellname + ", medians of \($fs | length) and \($zs | length) starts",
      ([$fs[].deliveries_per_s] | ranged(kps; "/s")), ([$zs[].deliveries_per_s] | ranged(kps; "/s")),
      (ratio($f; $z) | x),
      yes(if $f and $z then ratio($f; $z) >= 0.9 else null end)] | row),
    (["≤ 0.1 writes per delivery", $cellname + ", median of \($fs | length)",
      ($fw | r(3)), "nchan \($c.writes_per_delivery | r(3)), ceiling \([$zs[].writes_per_delivery // empty] | median | r(3))", "",
      yes(if $fw != null then $fw <= 0.1 else null end)] | row)
),
( # one at a time
  (["ws", "sse"][]) as $p | ([64, 1024][]) as $s | ([1, 2][]) as $n
  | cell("fanhub"; $n; $p; 1000; 0; $s; 1) as $f
  | cell("nchan"; $n; $p; 1000; 0; $s; 1) as $c
  | cell("ceiling"; $n; $p; 1000; 0; $s; 1) as $z
  | (if $n == 1 then 1 else 0.6 end) as $lim
  | ["W=1 p99 ≤ \($lim)× nchan", "\($p) 1k \($s) B, n=\($n)",
     ($f.lat_us.p99 | ms) + " ms",
     ($c.lat_us.p99 | ms) + " ms (ceiling " + ($z.lat_us.p99 | ms) + " ms)",
     (ratio($f.lat_us.p99; $c.lat_us.p99) | x),
     yes(if $f and $c then ratio($f.lat_us.p99; $c.lat_us.p99) <= $lim else null end)] | row
),
( # under load
  (["ws", "sse"][]) as $p | ([64, 1024][]) as $s | ([1, 2][]) as $n
  | cell("fanhub"; $n; $p; 10000; 0; $s; 32) as $f
  | cell("nchan"; $n; $p; 10000; 0; $s; 32) as $c
  | ["W=32 p99 ≤ 0.5× nchan", "\($p) 10k \($s) B, n=\($n)",
     ($f.lat_us.p99 | ms) + " ms", ($c.lat_us.p99 | ms) + " ms",
     (ratio($f.lat_us.p99; $c.lat_us.p99) | x),
     yes(if $f and $c then ratio($f.lat_us.p99; $c.lat_us.p99) <= 0.5 else null end)] | row
),
( # memory
  (["ws", "sse"][]) as $p | ([1, 2][]) as $n
  | cell("fanhub"; $n; $p; 10000; 0; 64; 1) as $f
  | cell("nchan"; $n; $p; 10000; 0; 64; 1) as $c
  | ["idle ≤ 1 KiB per subscriber", "\($p) 10k, n=\($n)",
     ($f.rss_idle_per_conn_b | r(0)) + " B", "nchan " + ($c.rss_idle_per_conn_b | r(0)) + " B",
     (ratio($f.rss_idle_per_conn_b; $c.rss_idle_per_conn_b) | x),
     yes(if $f then $f.rss_idle_per_conn_b <= 1024 else null end)] | row
),
( # memory after a reconnect storm: the worst of the fresh starts (runs
  # up to 2026-12-06; the storm has its own run since, storm.md)
  (["ws", "sse"][]) as $p
  | [$all.runs[] | select(.group == "storm" and .server == "fanhub"
      and .proto == $p and .loadgen_rc == 0) | .rss_idle_per_conn_b] as $f
  | select($f | length > 0)
  | [$all.runs[] | select(.group == "storm" and .server == "nchan"
      and .proto == $p and .loadgen_rc == 0) | .rss_idle_per_conn_b] as $c
  | ["storm: idle ≤ 1 KiB per subscriber, worst start",
     "\($p) 10k at once, n=2, \($f | length) fresh starts",
     ($f | max | r(0)) + " B (each start: " + ($f | map(r(0)) | join(", ")) + ")",
     "nchan worst " + ($c | max | r(0)) + " B of \($c | length)",
     (ratio($f | max; $c | max) | x),
     yes(if ($f | length) > 0 then ($f | max) <= 1024 else null end)] | row
),
( # hub_broadcast: the median over the rounds of each round's p99
  inproc_groups[] | select(.case != "no-subscriber")
  | [.runs[].call_us.p99] as $p
  | ["hub_broadcast() p99 ≤ 5 µs", "10k subs, \(.shards) shard(s), \(.case), \(.rate), median of \($p | length) rounds",
     ($p | ranged(r(2); " µs")), "", "", yes(if ($p | length) > 0 then ($p | median) <= 5 else null end)] | row
),
( # isolation: medians over the interleaved pairs, the ceiling's beside
  (["ws", "sse"][]) as $p | ([64, 1024][]) as $s
  | iso_pairs("fanhub"; $p; $s) as $f
  | iso_pairs("ceiling"; $p; $s) as $z
  | ($f | dps_ratios) as $fd | ($f | p99_ratios) as $fp
  | ([$f[].i.server_metrics.fanhub_bytes_queued // empty] | max) as $q
  | "\($p) 1k+1 \($s) B W=32, n=1, \($f | length) pairs" as $cellname
  | (["isolation: healthy deliveries/s ≥ 95%", $cellname,
      ([$f[].i.deliveries_per_s] | median | kps) + "/s with, " + ([$f[].b.deliveries_per_s] | median | kps) + "/s alone",
      "ceiling " + ($z | dps_ratios | spread),
      ($fd | spread),
      yes(if ($fd | length) > 0 then ($fd | median) >= 0.95 else null end)] | row),
    (["isolation: healthy p99 within 10%", $cellname,
      ([$f[].i.lat_us.p99] | median | ms) + " ms with, " + ([$f[].b.lat_us.p99] | median | ms) + " ms alone",
      "ceiling " + ($z | p99_ratios | spread),
      ($fp | spread),
      yes(if ($fp | length) > 0 then ($fp | median) <= 1.1 else null end)] | row),
    (["isolation: stalled queue within caps (1 MiB)", $cellname,
      ($q | if . == null then "–" else "at most \(. / 1024 | r(0)) KiB queued" end),
      "server RSS +" + ([$f[] | .i.rss_load_kb - .b.rss_load_kb] | median | r(0)) + " KiB vs alone (median)",
      "", yes(if $q != null then $q <= 1048576 + 2048 else null end)] | row)
),
"",
"## Side by side: fanhub / nchan and fanhub / ceiling",
"",
"Same cell, same invocation. Throughput ratio > 1 and latency ratio < 1 favour fanhub.",
"",
"| proto | subs | size | W | n | fanhub del/s | nchan del/s | ceiling del/s | ÷nchan | ÷ceiling | fanhub p99 ms | nchan p99 ms | ceiling p99 ms | ÷nchan | ÷ceiling |",
"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
( (["ws", "sse"][]) as $p | ([1000, 10000][]) as $subs | ([64, 1024][]) as $s
  | ([1, 32][]) as $w | ([1, 2][]) as $n
  | cell("fanhub"; $n; $p; $subs; 0; $s; $w) as $f
  | cell("nchan"; $n; $p; $subs; 0; $s; $w) as $c
  | cell("ceiling"; $n; $p; $subs; 0; $s; $w) as $z
  | [$p, ($subs | tostring), ($s | tostring), ($w | tostring), ($n | tostring),
     ($f.deliveries_per_s | kps), ($c.deliveries_per_s | kps), ($z.deliveries_per_s | kps),
     (ratio($f.deliveries_per_s; $c.deliveries_per_s) | x),
     (ratio($f.deliveries_per_s; $z.deliveries_per_s) | x),
     ($f.lat_us.p99 | ms), ($c.lat_us.p99 | ms), ($z.lat_us.p99 | ms),
     (ratio($f.lat_us.p99; $c.lat_us.p99) | x),
     (ratio($f.lat_us.p99; $z.lat_us.p99) | x)] | row
),
"",
"## Every run",
"",
"n = fanhub shards / nginx workers / ceiling threads. Server CPU and loadgen CPU: CPU time over the phase's wall time (100% = one core; the machine has 2). Other CPU: what processes outside the benchmark used while this server's set of phases ran (same scale): high values mark noisy cells. Latency is publish-to-receive in ms. In flight: messages published and not yet at every subscriber, time-averaged (at most W). Ack p50: publish POST to its HTTP answer, ms. Writes = the server's write, writev, sendmsg, sendto calls (perf tracepoints) per delivery; syscw = /proc/PID/io syscw per delivery (counts write/writev only, not sendmsg/sendto). RSS per connection is the server's VmRSS over its RSS before any connection, divided by the connections.",
"",
"| server | n | proto | subs | stalled | size | W | msgs | deliveries/s | p50 | p99 | p99.9 | max | lost | dups | in flight | ack p50 | writes/del | syscw/del | CPU s per M del | server CPU | loadgen CPU | other CPU | RSS idle B/conn | RSS load B/conn |",
"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
( .runs[]
  | [.server + (if .warmup then " (warm-up)" else "" end) + (if .group != null and .group != "matrix" then ", " + .group else "" end), (.shards | tostring), .proto, (.subs | tostring), (.stalled | tostring),
     (.size | tostring), (.window | tostring), (.msgs | tostring),
     (.deliveries_per_s | kps), (.lat_us.p50 | ms), (.lat_us.p99 | ms),
     (.lat_us.p999 | ms), (.lat_us.max | ms),
     ((.lost | tostring) + (if .timed_out then " (timeout)" else "" end)),
     (.dups | tostring), (.avg_in_flight | r(1)), (.ack_us.p50 | ms), (.writes_per_delivery | r(3)), (.syscw_per_delivery | r(3)),
     (.cpu_s_per_M | r(2)),
     (if .server_cpu_s != null then ((.server_cpu_s / .duration_s * 100 | round | tostring) + "%") else "–" end),
     (if .loadgen_cpu_s != null then ((.loadgen_cpu_s / .duration_s * 100 | round | tostring) + "%") else "–" end),
     (if .other_load != null then ((.other_load.other_cpu_s / .other_load.set_s * 100 | round | tostring) + "%") else "–" end),
     (.rss_idle_per_conn_b | r(0)), (.rss_load_per_conn_b | r(0))] | row
),
"",
"## Isolation: one subscriber that never reads among 1k",
"",
"One server start and one set of 1k healthy connections per row; W=32, 1 s phases alternating without and with one never-reading subscriber (connected for its phase, closed after it), in ABBA order. Ratio = with / alone for each adjacent pair: median (min-max) over the pairs; the other columns are medians. Every phase is also in *Every run* below (stalled 0 or 1).",
"",
"| server | proto | size | pairs | deliveries/s alone | with stalled | ratio | p99 alone ms | with stalled | ratio | server RSS alone KiB | with stalled | fanhub bytes queued (max) | fanhub drops |",
"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
( (["fanhub", "nchan", "ceiling"][]) as $sv | (["ws", "sse"][]) as $p | ([64, 1024][]) as $s
  | iso_pairs($sv; $p; $s) as $f
  | select($f | length > 0)
  | [servername($sv; 1), $p, ($s | tostring), ($f | length | tostring),
     ([$f[].b.deliveries_per_s] | median | kps), ([$f[].i.deliveries_per_s] | median | kps),
     ($f | dps_ratios | spread),
     ([$f[].b.lat_us.p99] | median | ms), ([$f[].i.lat_us.p99] | median | ms),
     ($f | p99_ratios | spread),
     ([$f[].b.rss_load_kb] | median | r(0)), ([$f[].i.rss_load_kb] | median | r(0)),
     ([$f[].i.server_metrics.fanhub_bytes_queued // empty] | max | r(0)),
     ([$f[].i.server_metrics.fanhub_drops_total // empty] | max | r(0))] | row
),
"",
"## Scale-out over NATS: node A to node B",
"",
"1k WebSocket subscribers on fanhubd node B, publishes POSTed to node A (1 shard each), so every message goes through nats-server: `nats-core` over core NATS, `nats-js` through a JetStream stream (file storage). `fanhub` is a lone node measured in the same minute. Server CPU counts both nodes and nats-server.",
"",
"| setup | W | deliveries/s | p50 ms | p99 ms | max ms | lost | dups | server CPU | ack p50 ms |",
"|---|---|---|---|---|---|---|---|---|---|",
( (["fanhub", "nats-core", "nats-js"][]) as $sv | ([1, 32][]) as $w
  | (last($all.runs[] | select((.group // "scale-out") == "scale-out"
      and .server == $sv and .shards == 1 and .proto == "ws"
      and .subs == 1000 and .stalled == 0 and .size == 64 and .window == $w)) // null) as $r
  | select($r != null)
  | [$sv, ($w | tostring), ($r.deliveries_per_s | kps), ($r.lat_us.p50 | ms),
     ($r.lat_us.p99 | ms), ($r.lat_us.max | ms), ($r.lost | tostring), ($r.dups | tostring),
     (if $r.server_cpu_s != null then (($r.server_cpu_s / $r.duration_s * 100 | round | tostring) + "%") else "–" end),
     ($r.ack_us.p50 | ms)] | row
),
"",
"## hub_broadcast() call time, in process (bench/inproc.c)",
"",
"10k subscribers on in-memory transports that take every byte at once; `stalled-client`: one of them never takes a byte; `stalled-shard`: one blocks inside writev for the whole run, so its shard thread is stuck; `no-subscriber`: the healthy hub, broadcasting to a topic nobody subscribed to (no shard is handed anything: the floor of a call). `1000/s` is paced (the commit-hook case: the caller sleeps a millisecond between calls, each call finds the shards idle), `burst` is back to back. Every case runs once per round; the rounds are spread over the run, and the figures are the median of the rounds' (their range in brackets): a second in which the host takes the VM's CPUs away spoils one round's p99, not the median.",
"",
"`eventfd-wake` is the floor under waking a shard: one eventfd write() that wakes a thread sleeping in epoll_wait. hub_broadcast() pays it only for a shard that sleeps: a shard that got work in the last 3 ms naps in 100 µs waits and looks at its queue itself, so at 1000/s the calls rarely make a system call. Caller switches: involuntary context switches of the calling thread (it was preempted, typically by a shard it woke); caller page faults: its minor page faults (fresh heap pages touched: 25-50 µs each on this VM; inproc keeps and pre-touches its heap as a latency-minded host would, so few remain); both summed over the rounds.",
"",
"| shards | case | rate | rounds × calls | p50 µs | p99 µs | p99.9 µs | max µs | shard queue overflows | caller switches | caller page faults |",
"|---|---|---|---|---|---|---|---|---|---|---|",
( $all.inproc[] | select(.shards == null)
  | ["–", .case, .rate, "1 × \(.calls)", (.call_us.p50 | r(2)), (.call_us.p99 | r(2)),
     (.call_us.p999 | r(2)), (.call_us.max | r(2)), "–", "–", "–"] | row
),
( inproc_groups[]
  | [(.shards | tostring), .case, .rate, "\(.runs | length) × \(.runs[0].calls)",
     ([.runs[].call_us.p50] | median | r(2)), ([.runs[].call_us.p99] | ranged(r(2); " µs")),
     ([.runs[].call_us.p999] | median | r(2)), ([.runs[].call_us.max] | max | r(2)),
     ([.runs[].queue_overflows] | add | tostring),
     ([.runs[].caller_involuntary_switches] | add | tostring),
     ([.runs[].caller_page_faults] | add | tostring)] | row
),
"",
"## Plots",
"",
"![latency CDF](latency_cdf.png)",
"",
"![deliveries per second vs subscribers](throughput.png)"

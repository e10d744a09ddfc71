# Turns bench/results/tls.json into tls.md: jq -r -f tls-report.jq
def r(d): if . == null then "–" else ((. * pow(10; d) | round) / pow(10; d) | tostring) end;
def ms: if . == null then "–" else (. / 1000 | r(1)) end;
def kps: if . == null then "–" else ((. / 1000 | round | tostring) + "k") end;
def kib: if . == null then "–" else (. / 1024 | r(1)) end;
def x: if . == null then "–" else (r(2) + "×") end;
def yes(c): if c == null then "n/a" elif c then "**met**" else "**not met**" end;
def row: "| " + join(" | ") + " |";
def median: sort | if length == 0 then null
  elif length % 2 == 1 then .[length / 2 | floor]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;
def names: {"fanhub-tls": "fanhub TLS", "fanhub-plain": "fanhub plain",
             "nchan-tls": "nginx+nchan TLS"};

. as $all
| def cell(s; p; w):
    first($all.runs[] | select(.group == "matrix" and .server == s
      and .proto == p and .window == w)) // null;
  # every W=32 phase of a server and protocol, all starts
  def starts(s; p):
    [$all.runs[] | select(.server == s and .proto == p and .window == 32)];
  def nstarts(s; p): [starts(s; p)[] | [.group, .connect_s]] | unique | length;
  def dps_med(s; p): [starts(s; p)[].deliveries_per_s] | median;
  def dps_list(s; p): [starts(s; p)[].deliveries_per_s | kps] | join(", ");
  def idle_worst(s; p): [starts(s; p)[].rss_idle_per_conn_b] | max;
  def idle_all(s; p): [starts(s; p)[] | [.group, .connect_s, .rss_idle_per_conn_b]]
    | unique | map(.[2] | tostring) | join(", ");
  def pname(p): if p == "ws" then "wss://" else "HTTPS SSE" end;

"# fanhub TLS fanout benchmark (issue 19, item 1)",
"",
"Machine: \($all.machine.nproc) CPUs (\($all.machine.cpu)), \($all.machine.mem_mb) MiB, \($all.machine.kernel).",
"Run \($all.date), fanhub commit `\($all.fanhub_commit)`\(if $all.fanhub_dirty_files > 0 then " (+\($all.fanhub_dirty_files) uncommitted files)" else "" end); \($all.nginx) with nchan \($all.nchan) and \($all.openssl); fanhub and the load generator on mbedTLS \($all.mbedtls). The run took \($all.seconds) s.",
"\($all.subs) subscribers, 64 B payloads, \($all.suite), one self-signed P-256 ECDSA certificate made for the run and used by both servers; 1 fanhub shard, 1 nginx worker. Publishes are plain HTTP POSTs to a second, plain listener of each server. Everything on loopback: the load generator (one thread, which decrypts every record) and the server share the 2 CPUs. Processes outside the benchmark used \($all.machine.other_cpu_s) CPU-s during the run (load average \($all.machine.loadavg_before) before, \($all.machine.loadavg_after) after); the machine is shared, so compare figures within this run only.",
"How to read each figure: [bench/README.md](../README.md#tls-fanout-make-bench-tls).",
"",
"## Targets",
"",
(["target", "cell", "fanhub TLS", "peer", "ratio", ""] | row),
"|---|---|---|---|---|---|",
(["ws", "sse"][] as $p
 | (cell("fanhub-tls"; $p; 32)) as $f
 | (cell("nchan-tls"; $p; 32)) as $n
 | ratio($f.deliveries_per_s; $n.deliveries_per_s) as $rn
 | (dps_med("fanhub-tls"; $p)) as $ft
 | (dps_med("fanhub-plain"; $p)) as $fp
 | ratio($ft; $fp) as $rp
 | (["deliveries/s ≥ 10× nginx+nchan TLS", "\(pname($p)) W=32, one start each",
     ($f.deliveries_per_s | kps), "\($n.deliveries_per_s | kps)/s", ($rn | x),
     yes(if $rn == null then null else $rn >= 10 end)] | row),
   (["deliveries/s ≥ 0.6× fanhub plain", "\(pname($p)) W=32, medians of \(starts("fanhub-tls"; $p) | length) and \(starts("fanhub-plain"; $p) | length) phases of \(nstarts("fanhub-tls"; $p)) and \(nstarts("fanhub-plain"; $p)) alternating starts",
     "\($ft | kps)/s (\(dps_list("fanhub-tls"; $p)))", "plain \($fp | kps)/s (\(dps_list("fanhub-plain"; $p)))", ($rp | x),
     yes(if $rp == null then null else $rp >= 0.6 end)] | row),
   (["≤ 0.1 TLS records per delivery", "\(pname($p)) W=32",
     ($f.tls_records_per_delivery | r(4)), "nchan \($n.tls_records_per_delivery | r(4))", "",
     yes(if $f.tls_records_per_delivery == null then null else $f.tls_records_per_delivery <= 0.1 end)] | row),
   (idle_worst("fanhub-tls"; $p)) as $i
   | (["idle TLS subscriber ≤ 12 KiB (12,288 B) RSS", "\(pname($p)), worst of \(nstarts("fanhub-tls"; $p)) starts",
     "\($i) B (each start: \(idle_all("fanhub-tls"; $p)))", "nchan \($n.rss_idle_per_conn_b) B", (ratio($i; $n.rss_idle_per_conn_b) | x),
     yes(if $i == null then null else $i <= 12288 end)] | row)),
"",
"## Side by side",
"",
"Deliveries/s, publish-to-receive latency, TLS application-data records and write system calls per delivery, server CPU per million deliveries, RSS per idle subscriber (measured after the subscribers connected, before the phases), and what the load generator and the server used of the 2 CPUs during the phase.",
"",
(["proto", "W", "server", "deliveries/s", "p50 ms", "p99 ms", "records/delivery", "bytes/record", "writes/delivery", "server CPU s/M", "idle RSS KiB/sub", "server CPU %", "loadgen CPU %", "lost"] | row),
"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
(["ws", "sse"][] as $p | [32, 1][] as $w | ["fanhub-tls", "fanhub-plain", "nchan-tls"][] as $s
 | cell($s; $p; $w) | select(. != null)
 | [pname($p), ($w | tostring), names[$s], (.deliveries_per_s | kps), (.lat_us.p50 | ms), (.lat_us.p99 | ms),
    (.tls_records_per_delivery | r(4)), (.tls_bytes_per_record | r(0)), (.writes_per_delivery | r(4)),
    (.cpu_s_per_M | r(3)), (.rss_idle_per_conn_b | kib),
    ((.server_cpu_s / .duration_s * 100) | r(0)), ((.loadgen_cpu_s / .duration_s * 100) | r(0)),
    "\(.lost + .dups)\(if .timed_out then " (timed out)" else "" end)"] | row),
"",
"## Every start",
"",
(["group", "proto", "W", "server", "deliveries/s", "p99 ms", "records/delivery", "writes/delivery", "server CPU s/M", "idle RSS KiB/sub", "connect s", "other CPU s"] | row),
"|---|---|---|---|---|---|---|---|---|---|---|---|",
($all.runs[]
 | [.group, pname(.proto), (.window | tostring), names[.server], (.deliveries_per_s | kps), (.lat_us.p99 | ms),
    (.tls_records_per_delivery | r(4)), (.writes_per_delivery | r(4)), (.cpu_s_per_M | r(3)),
    (.rss_idle_per_conn_b | kib), (.connect_s | r(1)), (.other_load.other_cpu_s | r(1))] | row),
"",
"## Where the CPU goes at W=32",
"",
"Per delivery, in µs of CPU: the server's (all its threads) and the load generator's, which decrypts what the server encrypts. Their sum against the 2 CPUs bounds deliveries/s on this machine: 2 / (server + loadgen) µs.",
"",
(["proto", "server", "server µs", "loadgen µs", "sum µs", "bound (2 CPUs)", "measured"] | row),
"|---|---|---|---|---|---|---|",
(["ws", "sse"][] as $p | ["fanhub-tls", "fanhub-plain", "nchan-tls"][] as $s
 | cell($s; $p; 32) | select(. != null)
 | (.cpu_s_per_M) as $sv | (.loadgen_cpu_s / .deliveries * 1e6) as $lg
 | [pname($p), names[$s], ($sv | r(3)), ($lg | r(3)), ($sv + $lg | r(3)),
    ((2 / ($sv + $lg) * 1e6) | kps), (.deliveries_per_s | kps)] | row)
,
"",
"What a saturated machine allows fanhub TLS against fanhub plain, from the CPU both spend per delivery (medians over every W=32 phase, all starts; less disturbed by other load on the machine than deliveries/s, which needs both CPUs to itself):",
"",
(["ws", "sse"][] as $p
 | [starts("fanhub-tls"; $p)[] | .cpu_s_per_M + .loadgen_cpu_s / .deliveries * 1e6] | median as $t
 | [starts("fanhub-plain"; $p)[] | .cpu_s_per_M + .loadgen_cpu_s / .deliveries * 1e6] | median as $q
 | [starts("fanhub-tls"; $p)[].cpu_s_per_M] | median as $ts
 | [starts("fanhub-plain"; $p)[].cpu_s_per_M] | median as $qs
 | "- \(pname($p)): server + load generator \($t | r(3)) µs per delivery with TLS, \($q | r(3)) µs plain: TLS at most \(ratio($q; $t) | x) of plain (the server alone: \($ts | r(3)) against \($qs | r(3)) µs, \(ratio($qs; $ts) | x)).")

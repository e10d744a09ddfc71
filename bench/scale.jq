# bench/results/scale.json -> scale.md (bench/scale.sh, make bench-scale)
def r0: . * 1 | round;
def r1: . * 10 | round / 10;
def r2: . * 100 | round / 100;
def ms: . / 1000 | r1;
# a histogram bound in seconds as µs (-1: +Inf, past the last bound)
def us: if . == null then "-" elif . < 0 then ">100,000" else . * 1e6 | r1 | tostring end;
def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def fmt: tostring | until(test("^[0-9]{4}") | not; sub("(?<a>[0-9])(?<b>[0-9]{3})(?<c>(,|$|\\.))"; "\(.a),\(.b)\(.c)"));

# quantile q of merged [value_us, count] pairs
def hq($q): (map(.[1]) | add) as $n | sort_by(.[0])
  | reduce .[] as $p ({c: 0, v: null};
      if .v == null and (.c + $p[1]) > ($q * $n) then .v = $p[0] else . end | .c += $p[1])
  | .v;

. as $r
| ($r.hists | group_by([.set, .phase]) | map({key: "\(.[0].set)/\(.[0].phase)",
    value: (map(.lat_hist[]) | group_by(.[0]) | map([.[0][0], (map(.[1]) | add)]))})
  | from_entries) as $H
| ($r.sets | map({key: .samples_of, value: .}) | from_entries) as $S
| ($r.runs | map(select(.group_member == 0 and .broadcast_le))
  | map({key: "\(.set)/\(.phase)", value: .broadcast_le}) | from_entries) as $B
# hub_broadcast() on the publishing node during a phase: the difference of
# fanhubd's cumulative histogram after it and after the phase before;
# the quantile is the upper bound of the bucket it falls in (seconds)
| def bq($set; $phase; $q):
    ($B["\($set)/\($phase)"]) as $c
    | if $c == null then null else
      ($B["\($set)/\($phase - 1)"] // ($c | map([.[0], 0]))) as $p
      | [range(0; $c | length) as $i | [$c[$i][0], $c[$i][1] - $p[$i][1]]] as $d
      | ($d[-1][1]) as $n
      | if $n == 0 then null else
        ([$d[] | select(.[1] >= $q * $n)][0][0]) end end;
# CPU % per process and stream messages/s over [t0, t1] from a set's samples
  def window($set; $t0; $t1):
    ($S[$set]) as $s
    | ($s.samples | map(select(.[0] >= $t0 - 0.25 and .[0] <= $t1 + 0.25))) as $w
    | if ($w | length) < 2 then null else
      ($w[0]) as $a | ($w[-1]) as $b | ($b[0] - $a[0]) as $dt
      | {secs: $dt, stream_msgs_per_s: (($b[1] - $a[1]) / $dt),
         machine_pct: (($b[2] - $a[2]) / $s.clk_tck / $dt * 100 | r0),
         cpu_pct: [range(0; $s.procs | length) as $i
           | {(($s.procs[$i])): (($b[$i + 3] - $a[$i + 3]) / $s.clk_tck / $dt * 100 | r0)}] | add}
      end;
  ($r.runs | group_by([.set, .phase]) | map(
    (map(select(.group_member == 0))[0]) as $p
    | {set: .[0].set, phase: .[0].phase, window: .[0].window, nodes: .[0].nodes,
       subs: (map(.subs) | add), msgs: $p.msgs,
       deliveries: (map(.deliveries) | add), expected: (map(.expected_deliveries) | add),
       lost: (map(.lost) | add), dups: (map(.dups) | add), bad: (map(.bad) | add),
       misorders: (map(.misorders // 0) | add),
       orders: (map(.order_hash) | unique | length),
       timed_out: (map(.timed_out) | any), t: $p.wall_start,
       duration: (map(.duration_s) | max),
       ack_p50: $p.ack_us.p50, ack_p99: $p.ack_us.p99,
       pub_msgs_per_s: ($p.msgs / $p.duration_s),
       bcast_p50: bq(.[0].set; .[0].phase; 0.5), bcast_p99: bq(.[0].set; .[0].phase; 0.99),
       lat: ($H["\(.[0].set)/\(.[0].phase)"]),
       win: window(.[0].set; $p.wall_start; (map(.wall_end) | max))}
    | .dps = (.deliveries / .duration)
    | .p50 = (.lat | hq(0.5)) | .p99 = (.lat | hq(0.99)) | .p999 = (.lat | hq(0.999))
    | del(.lat)) | sort_by(.t)) as $rows
| ($rows | map(select((.set | startswith("lone")) and .window > 1) | .dps) | med) as $lone_dps
| ($rows | map(select(.set == "plain" and .window > 1) | .dps) | med) as $plain_dps
| ($rows | map(select(.set == "scale" and .window > 1) | .dps) | med) as $scale_dps
| ($rows | map(select(.set == "scale")) | (map(.lost + .dups + .bad) | add)) as $scale_bad
| ($rows | map(select(.set == "scale")) | (map(.misorders) | add)) as $scale_mis
| ($rows | map(select(.set == "scale")) | (map(.orders) | max)) as $scale_orders
| ($rows | map(select(.set == "scale")) | (map(.timed_out) | any)) as $scale_to
| ($rows | map(select(.set == "scale")) | .[0].subs) as $scale_subs
| ($rows | map(select(.set == "stream" and .window > 1 and .win) | .win.stream_msgs_per_s) | med) as $stream_rate
| "# Scale-out over NATS JetStream (make bench-scale)",
  "",
  "\($r.date), fanhub \($r.fanhub_commit)\(if $r.fanhub_dirty_files > 0 then " + \($r.fanhub_dirty_files) uncommitted files" else "" end), \($r.nats_server).",
  "Machine: \($r.machine.nproc) × \($r.machine.cpu), \($r.machine.mem_mb) MiB, \($r.machine.kernel); load average \($r.machine.loadavg_before) before, \($r.machine.loadavg_after) after; \($r.seconds) s.",
  "",
  "Every node is `fanhubd --shards 1 --nats ... --jetstream STREAM` on one nats-server; `lone` is one such node with its own stream (run before and after the cluster: `lone`, `lone-2`), `plain` the same node without NATS, `scale` \($r.nodes) nodes on one stream. WebSocket subscribers (`fanhub.raw`), 64 B payloads, one load generator per node (`loadgen --group`), publishes into node 0 only. A message is in flight until every subscriber of every node has it.",
  "",
  "## Targets",
  "",
  "| target | value | met |",
  "|---|---|---|",
  "| zero loss, zero duplicates at \($scale_subs | fmt) subscribers | lost+dups+bad \($scale_bad)\(if $scale_to then ", a phase timed out" else "" end) | \(if $scale_bad == 0 and ($scale_to | not) then "met" else "not met" end) |",
  "| the same order for every subscriber at \($scale_subs | fmt) subscribers | misorders \($scale_mis); orders across the \($r.nodes) load generators per phase: \($scale_orders) | \(if $scale_mis == 0 and $scale_orders == 1 then "met" else "not met" end) |",
  "| aggregate deliveries/s ≥ 0.8× lone (W=32, medians of lone and lone-2's phases) | \($scale_dps | r0 | fmt) vs \($lone_dps | r0 | fmt): \($scale_dps / $lone_dps | r2)× | \(if $scale_dps >= 0.8 * $lone_dps then "met" else "not met" end) |",
  "| (no target) aggregate against the lone node without NATS (plain) | \($scale_dps | r0 | fmt) vs \($plain_dps // 0 | r0 | fmt): \(if $plain_dps then ($scale_dps / $plain_dps | r2) else "-" end)× | |",
  "| (no target) the stream's messages/s with \($r.nodes) consumers, \($rows | map(select(.set == "stream")) | .[0].subs // 0) subscribers in all (`stream`, W=32, median, /jsz) | \($stream_rate // 0 | r0 | fmt) | |",
  "",
  "## Every phase",
  "",
  "| set | phase | W | subscribers | msgs | deliveries/s (all nodes) | p50 ms | p99 ms | p99.9 ms | lost | dups | misorders | hub_broadcast() p50 / p99 µs (≤) | publish ack p50 / p99 ms | stream msgs/s (/jsz) | publisher msgs/s |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ($rows[] | "| \(.set) | \(.phase) | \(.window) | \(.subs | fmt) | \(.msgs) | \(.dps | r0 | fmt) | \(.p50 | ms) | \(.p99 | ms) | \(.p999 | ms) | \(.lost) | \(.dups) | \(.misorders)\(if .orders > 1 then " (\(.orders) orders)" else "" end) | \(.bcast_p50 | us) / \(.bcast_p99 | us) | \(.ack_p50 | ms) / \(.ack_p99 | ms) | \(if .win then (.win.stream_msgs_per_s | r0) else "-" end) | \(.pub_msgs_per_s | r0) |"),
  "",
  "## CPU per process (% of one CPU, over each phase, /proc/PID/stat)",
  "",
  ($rows[] | select(.win) | . as $row | "- \(.set) phase \(.phase) (W=\(.window)): \(.win.cpu_pct | to_entries | map("\(.key) \(.value)") | join(", ")); total \(.win.cpu_pct | [.[]] | add), the whole machine \(.win.machine_pct) of \($r.machine.nproc * 100); CPU µs per delivery: fanhubd \(.win.cpu_pct | to_entries | map(select(.key | startswith("fanhubd")) | .value) | add / 100 / $row.dps * 1e6 | r2), loadgen \(.win.cpu_pct | to_entries | map(select(.key | startswith("loadgen")) | .value) | add / 100 / $row.dps * 1e6 | r2)"),
  "",
  "## Publishing node's relay counters after each set",
  "",
  ($r.sets[] | "- \(.samples_of): \(.pub_node_metrics // {} | to_entries | map("\(.key) \(.value)") | join(", "))")

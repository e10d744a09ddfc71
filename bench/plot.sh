#!/usr/bin/env bash
# bench/plot.sh LATEST_JSON OUT_DIR TMP_DIR: the PNG plots of a full run.
#   latency_cdf.png  publish-to-receive latency CDF per server, two cells:
#                    W=1 with 1k subscribers, W=32 with 10k (WS, 64 B, n=1)
#   throughput.png   deliveries/s vs subscribers at W=32, 64 B, WS and SSE
set -euo pipefail
JSON=$1 OUT=$2 TMP=$3

cdf() { # server proto subs window -> file
  local f=$TMP/cdf-$1-$2-$3-$4.dat
  jq -r --arg s "$1" --arg p "$2" --argjson n "$3" --argjson w "$4" '
    first(.runs[] | select(.server == $s and .shards == 1 and .proto == $p
      and .subs == $n and .stalled == 0 and .size == 64 and .window == $w))
    | .cdf[] | "\(.[1] / 1000) \(.[0] * 100)"' "$JSON" > "$f"
  echo "$f"
}

tput() { # server shards proto -> file
  local f=$TMP/tput-$1-$2-$3.dat
  jq -r --arg s "$1" --argjson k "$2" --arg p "$3" '
    .runs[] | select(.server == $s and .shards == $k and .proto == $p
      and .stalled == 0 and .size == 64 and .window == 32)
    | "\(.subs) \(.deliveries_per_s / 1000)"' "$JSON" > "$f"
  echo "$f"
}

{
  echo "set terminal pngcairo size 1200,500 font 'sans,10'"
  echo "set output '$OUT/latency_cdf.png'"
  echo "set multiplot layout 1,2 title 'publish-to-receive latency CDF (WebSocket, 64 B, fanhub 1 shard / nginx 1 worker / ceiling 1 thread)'"
  echo "set logscale x; set xlabel 'latency (ms, log)'; set ylabel 'percentile'"
  echo "set yrange [0:100]; set grid; set key bottom right"
  for cell in "1000 1" "10000 32"; do
    set -- $cell
    echo "set title '$1 subscribers, W=$2'"
    echo "plot '$(cdf fanhub ws "$1" "$2")' using 1:2 with linespoints lw 2 title 'fanhub', \\"
    echo "     '$(cdf nchan ws "$1" "$2")' using 1:2 with linespoints lw 2 title 'nginx+nchan', \\"
    echo "     '$(cdf ceiling ws "$1" "$2")' using 1:2 with linespoints lw 2 title 'ceiling'"
  done
  echo "unset multiplot"

  echo "set output '$OUT/throughput.png'"
  echo "set multiplot layout 1,2 title 'deliveries per second vs subscribers (W=32, 64 B; n = shards / workers / threads)'"
  echo "unset logscale; set logscale x; set xrange [700:14000]; set xtics ('1k' 1000, '10k' 10000)"
  echo "set xlabel 'subscribers'; set ylabel 'thousand deliveries/s'; set yrange [0:*]; set key below horizontal"
  for proto in ws sse; do
    echo "set title '$proto'"
    echo "plot '$(tput fanhub 1 $proto)' using 1:2 with linespoints lw 2 title 'fanhub n=1', \\"
    echo "     '$(tput fanhub 2 $proto)' using 1:2 with linespoints lw 2 title 'fanhub n=2', \\"
    echo "     '$(tput nchan 1 $proto)' using 1:2 with linespoints lw 2 title 'nchan n=1', \\"
    echo "     '$(tput nchan 2 $proto)' using 1:2 with linespoints lw 2 title 'nchan n=2', \\"
    echo "     '$(tput ceiling 1 $proto)' using 1:2 with linespoints lw 2 title 'ceiling n=1', \\"
    echo "     '$(tput ceiling 2 $proto)' using 1:2 with linespoints lw 2 title 'ceiling n=2'"
  done
  echo "unset multiplot"
} > "$TMP/plots.gp"
gnuplot "$TMP/plots.gp"

#!/bin/bash
# usage: ab2.sh rounds bin... ; per round, per binary, the 8 MiB cells then CrowdFixed
rounds=$1; shift
cd "$(git rev-parse --show-toplevel)/share"  # from a checkout of the commit measured
for r in $(seq $rounds); do
  for b in "$@"; do
    for pat in 'FlashCrowd/size=8MiB/N=(10|50)$/arrive=once$' 'CrowdFixed/N=(10|50)$'; do
      l0=$(cut -d' ' -f1-3 /proc/loadavg)
      out=$(flock /tmp/kith-bench.lock /tmp/fixedcost3/$b.test -test.run '^$' -test.bench "$pat" -test.benchtime 1x 2>&1 | grep -E "^Benchmark")
      l1=$(cut -d' ' -f1-3 /proc/loadavg)
      echo "$out" | while read -r line; do
        name=$(echo "$line" | awk '{print $1}')
        m=$(echo "$line" | awk '{for(i=3;i<=NF;i+=2) if ($(i+1) ~ /^(origin_x|s_all|x_bound|cpu_s|x_cpu|conns\/dev|polls\/dev)$/) printf "%s=%s ", $(i+1), $i}')
        echo "r$r $b $name $m load=[$l0]->[$l1] $(date +%H:%M:%S)"
      done
    done
  done
done

#!/bin/bash
# A/B of 8 MiB N=200 (once and poisson), alternating A B, ROUNDS rounds. Usage: ab.sh OUT ROUNDS PATTERN
O=${1:?out}; R=${2:-2}; P=${3:-'FlashCrowd/size=8MiB/N=200$/'}; mkdir -p $O
for r in $(seq 1 $R); do for v in A B; do
  echo "== $v round $r $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/$v.txt
  (cd /tmp/lead20/$v && flock /tmp/kith-bench.lock ./share.test -test.run '^$' -test.bench "$P" -test.benchtime 1x >> $O/$v.txt 2>&1)
done; done
echo done > $O/DONE

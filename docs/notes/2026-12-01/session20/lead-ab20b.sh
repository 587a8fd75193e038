#!/bin/bash
# Usage: ab2.sh OUT ROUNDS PATTERN DIR_A DIR_B
O=${1:?out}; R=${2:-2}; P=${3}; DA=$4; DB=$5; mkdir -p $O
for r in $(seq 1 $R); do for v in A B; do d=$DA; [ $v = B ] && d=$DB
  echo "== $v round $r $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/$v.txt
  (cd $d && flock /tmp/kith-bench.lock ./share.test -test.run '^$' -test.bench "$P" -test.benchtime 1x >> $O/$v.txt 2>&1)
done; done
echo done > $O/DONE

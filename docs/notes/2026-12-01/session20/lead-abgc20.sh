#!/bin/bash
# A/B of GOGC (env) on one binary. Usage: abgc.sh OUT ROUNDS PATTERN DIR GOGC_B
O=${1:?out}; R=${2:-2}; P=${3}; D=$4; G=$5; mkdir -p $O
for r in $(seq 1 $R); do for v in A B; do
  echo "== $v round $r $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/$v.txt
  if [ $v = B ]; then (cd $D && GOGC=$G flock /tmp/kith-bench.lock ./share.test -test.run '^$' -test.bench "$P" -test.benchtime 1x >> $O/$v.txt 2>&1)
  else (cd $D && flock /tmp/kith-bench.lock ./share.test -test.run '^$' -test.bench "$P" -test.benchtime 1x >> $O/$v.txt 2>&1); fi
done; done
echo done > $O/DONE

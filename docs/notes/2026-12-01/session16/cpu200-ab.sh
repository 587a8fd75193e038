#!/bin/sh
# usage: ab.sh OUT ROUNDS CELL  -- runs A B B A per round pair, each alone under the bench lock, with profiles
OUT=$1; ROUNDS=$2; CELL=$3
mkdir -p $OUT
cd /work/wt/cpu200/share
i=0
for r in $(seq 1 $ROUNDS); do
  if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
  for x in $order; do
    i=$((i+1))
    d=$OUT/$x-$i; mkdir -p $d
    echo "== $x $i $(date +%T) $(cat /proc/loadavg)" >> $OUT/log
    KITH_CROWD_PROFILE=$d flock /tmp/kith-bench.lock /tmp/cpu200/$x.test -test.run '^$' -test.bench "$CELL" -test.benchtime 1x 2>&1 | grep Benchmark >> $OUT/log
  done
done
echo DONE >> $OUT/log

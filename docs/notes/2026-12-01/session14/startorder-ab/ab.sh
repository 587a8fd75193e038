#!/bin/bash
# ab.sh ROUNDS OUT 'CELLS' binA binB : A/B alternated (odd rounds A first), one crowd run per lock acquisition
R=$1; OUT=$2; CELLS=$3; A=$4; B=$5
cd /tmp/startorder/bsrc/share
for r in $(seq $R); do
  if [ $((r%2)) = 1 ]; then order="$A $B"; else order="$B $A"; fi
  for cell in $CELLS; do
  for x in $order; do
    l0=$(cut -d' ' -f1-3 /proc/loadavg)
    res=$(flock /tmp/kith-bench.lock /tmp/startorder/$x.test -test.run '^$' -test.bench "FlashCrowd/$cell" -test.benchtime 1x 2>&1 | grep '^Bench')
    echo "== $x round $r load $l0 $(date +%H:%M:%S)" >> $OUT
    echo "$res" >> $OUT
  done
  done
done
echo END >> $OUT

#!/bin/bash
# usage: ab.sh ROUNDS OUT binA binB   (alternates A,B then B,A)
R=$1; OUT=$2; A=$3; B=$4
cd (the engineer's worktree)/share
for r in $(seq 1 $R); do
  if [ $((r%2)) = 1 ]; then order="$A $B"; else order="$B $A"; fi
  for bin in $order; do
    echo "== $(basename $bin) round $r $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT
    flock /tmp/kith-bench.lock $bin -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=(10|50)$/arrive=once$' -test.benchtime 1x 2>&1 | grep '^Benchmark' >> $OUT
    echo "   after load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT
  done
done
echo DONE >> $OUT

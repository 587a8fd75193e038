#!/bin/bash
# Quiet-machine measurement of issue 13's cells (lead, session 19): one share.test built from main, every cell
# run in three passes (so each cell's runs are minutes apart, the machine's memory warm from the cell before).
# Usage: lead-measure19.sh SHARE_TEST OUTDIR
T=${1:?share.test}; O=${2:?outdir}; mkdir -p $O
run() { name=$1; shift; echo "== $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg) $*" >> $O/$name.txt; flock /tmp/kith-bench.lock "$@" >> $O/$name.txt 2>&1; echo "== end $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/$name.txt; }
cd "$(dirname "$T")"
for pass in 1 2 3; do
  run small $T -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=(10|50|200)$/' -test.benchtime 1x
  run big $T -test.run '^$' -test.bench 'FlashCrowd/size=64MiB/N=(10|50)$/' -test.benchtime 1x
  run n500 $T -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=500$/arrive=once' -test.benchtime 1x
done
run n64-200 $T -test.run '^$' -test.bench 'FlashCrowd/size=64MiB/N=200$/arrive=once' -test.benchtime 1x
run firstpcm $T -test.run '^$' -test.bench 'NeighbourFirstPCM' -test.benchtime 20x
run chunkpath $T -test.run '^$' -test.bench 'ChunkPath' -test.benchtime 3x
echo done > $O/DONE

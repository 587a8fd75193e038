#!/bin/bash
# End-of-session measurement of issue 13's cells (lead, session 21): one share.test built from main; the small
# cells in three passes, 64 MiB N<=50 and N=500 in two, 64 MiB N=200 once, then the chunk path and first PCM.
# (m21a/ is a first, shorter run of it at 6b48764: two passes of the small cells, one of the rest, no chunk path.)
# Usage: REPO=/path/to/clone lead-measure21.sh SHARE_TEST OUTDIR (OUTDIR absolute)   (summarise with: python3 ../session19/lead-summ19.py OUTDIR)
T=${1:?share.test}; O=${2:?outdir}; mkdir -p $O
run() { name=$1; shift; echo "== $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg) $*" >> $O/$name.txt; flock /tmp/kith-bench.lock "$@" >> $O/$name.txt 2>&1; echo "== end $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/$name.txt; }
cd "$(dirname "$T")"
for pass in 1 2 3; do
  run small $T -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=(10|50|200)$/' -test.benchtime 1x
  [ $pass = 3 ] && continue
  run big $T -test.run '^$' -test.bench 'FlashCrowd/size=64MiB/N=(10|50)$/' -test.benchtime 1x
  run n500 $T -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=500$/' -test.benchtime 1x
done
run n64-200 $T -test.run '^$' -test.bench 'FlashCrowd/size=64MiB/N=200$/arrive=once' -test.benchtime 1x
run chunkpath $T -test.run '^$' -test.bench 'ChunkPath' -test.benchtime 3x
(cd "${REPO:-.}/share" && run firstpcm $T -test.run '^$' -test.bench 'NeighbourFirstPCM' -test.benchtime 20x)
echo done > $O/DONE

#!/bin/bash
# Quiet-machine re-measurement (lead, session 10), sequential, fresh clones: /tmp/q (main) and /tmp/q0 (9e54106, session start).
export PATH=/usr/local/go/bin:$PATH GOFLAGS=-tags=libsqlite3,migrated_fynedo LANG=en_US.UTF-8
O=/work/notes/out/m10; mkdir -p $O
cd /tmp/q && git log --oneline -1 > $O/COMMIT && go test -c -o /tmp/q/share.test ./share || exit 1
cd /tmp/q0 && go test -c -o /tmp/q0/share.test ./share || exit 1
echo built > $O/BUILT
run() { name=$1; shift; echo "== $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg) $*" >> $O/$name.txt; "$@" >> $O/$name.txt 2>&1; echo "== end $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/$name.txt; }
for r in 1 2 3; do
  (cd /tmp/q0/share && run ab ../share.test -test.run '^$' -test.bench 'CrowdBound|FlashCrowd/size=8MiB/N=(10|50)$/arrive=once$' -test.benchtime 1x)
  (cd /tmp/q/share && run ab ../share.test -test.run '^$' -test.bench 'CrowdBound|FlashCrowd/size=8MiB/N=(10|50)$/arrive=once$' -test.benchtime 1x)
done
for t in q0 q; do
  (cd /tmp/$t/share && run ab64 ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=64MiB/N=(10|50)$/arrive=once' -test.benchtime 1x)
done
(cd /tmp/q0/share && run other ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=200$/.' -test.benchtime 1x)
(cd /tmp/q/share && run other ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=200$/.' -test.benchtime 1x)
(cd /tmp/q/share && run other ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=(10|50)$/arrive=poisson' -test.benchtime 1x)
(cd /tmp/q/share && run firstpcm ../share.test -test.run '^$' -test.bench 'NeighbourFirstPCM' -test.benchtime 20x)
(cd /tmp/q/share && run chunkpath ../share.test -test.run '^$' -test.bench 'ChunkPath' -test.benchtime 3x)
echo done > $O/DONE

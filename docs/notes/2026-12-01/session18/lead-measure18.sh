#!/bin/bash
# Quiet-machine re-measurement (lead, session 18), fresh clones: /tmp/q (main at the end) and /tmp/q0 (e98c6ec, the
# session's start); binaries alternated under the bench lock. Usage: lead-measure18.sh OUTDIR
export PATH=/usr/local/go/bin:$PATH GOFLAGS=-tags=libsqlite3,migrated_fynedo LANG=en_US.UTF-8
O=${1:-/work/notes/out/m18}; mkdir -p $O
for t in q q0; do [ -x /tmp/$t/share.test ] || (cd /tmp/$t && go test -c -o /tmp/$t/share.test ./share) || exit 1; done
(cd /tmp/q && git log --oneline -1; cd /tmp/q0 && git log --oneline -1) > $O/COMMITS
run() { name=$1; shift; echo "== $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg) $*" >> $O/$name.txt; flock /tmp/kith-bench.lock "$@" >> $O/$name.txt 2>&1; echo "== end $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/$name.txt; }
for order in 'q0 q' 'q q0'; do for t in $order; do
  (cd /tmp/$t/share && run ab8-$t ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=(10|50)$/.' -test.benchtime 1x)
  (cd /tmp/$t/share && run ab64-$t ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=64MiB/N=(10|50)$/arrive=once' -test.benchtime 1x)
done; done
for order in 'q0 q' 'q q0'; do for t in $order; do
  (cd /tmp/$t/share && run n200-$t ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=200$/arrive=once' -test.benchtime 1x)
  (cd /tmp/$t/share && run n500-$t ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=500$/arrive=once' -test.benchtime 1x)
done; done
(cd /tmp/q/share && run firstpcm-q ../share.test -test.run '^$' -test.bench 'NeighbourFirstPCM' -test.benchtime 20x)
echo done > $O/DONE

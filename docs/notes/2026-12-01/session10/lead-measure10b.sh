#!/bin/bash
# Second quiet sitting (lead, session 10): same binaries as measure10.sh (/tmp/q main, /tmp/q0 9e54106).
export PATH=/usr/local/go/bin:$PATH LANG=en_US.UTF-8
O=/work/notes/out/m10b; mkdir -p $O
run() { name=$1; shift; echo "== $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg) $*" >> $O/$name.txt; "$@" >> $O/$name.txt 2>&1; echo "== end $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/$name.txt; }
for r in 1 2 3; do for t in q0 q; do
  (cd /tmp/$t/share && run ab ../share.test -test.run '^$' -test.bench 'CrowdBound|FlashCrowd/size=8MiB/N=(10|50)$/arrive=once$' -test.benchtime 1x)
done; done
for t in q0 q; do
  (cd /tmp/$t/share && run ab64 ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=64MiB/N=(10|50)$/arrive=once' -test.benchtime 1x)
  (cd /tmp/$t/share && run other ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=200$/.' -test.benchtime 1x)
  (cd /tmp/$t/share && run poisson ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=(10|50)$/arrive=poisson' -test.benchtime 1x)
done
echo done > $O/DONE

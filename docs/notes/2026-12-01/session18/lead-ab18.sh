#!/bin/bash
# Lead, session 18: A/B of abebbac (qa: announcements capped at half the in-flight slots) against e98c6ec (qb),
# 8 MiB N=500 and N=200 once, alternated under the bench lock. Usage: lead-ab18.sh OUTDIR
export PATH=/usr/local/go/bin:$PATH GOFLAGS=-tags=libsqlite3,migrated_fynedo LANG=en_US.UTF-8
O=${1:-/work/notes/out/ab18}; mkdir -p $O
run() { name=$1; shift; echo "== $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg) $*" >> $O/$name.txt; flock /tmp/kith-bench.lock "$@" >> $O/$name.txt 2>&1; echo "== end $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/$name.txt; }
for order in 'qb qa' 'qa qb' 'qb qa'; do for t in $order; do
  (cd /tmp/$t/share && run n500-$t ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=500$/arrive=once' -test.benchtime 1x)
done; done
for order in 'qa qb' 'qb qa'; do for t in $order; do
  (cd /tmp/$t/share && run n200-$t ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=200$/arrive=once' -test.benchtime 1x)
done; done
echo done > $O/DONE

#!/bin/bash
# Lead, session 18 experiment (not a product change): 8 MiB N=500 once with the crowd's child processes reniced to +10
# (a loop renices every thread of every TestCrowdHelper process every 0.5 s, one renice call: nice is per thread), so the directory in the parent process gets a share of
# the CPU closer to a directory on its own machine, against plain runs; alternated under the bench lock.
export PATH=/usr/local/go/bin:$PATH
O=${1:-/work/notes/out/nice18}; mkdir -p $O
run() { name=$1; shift; echo "== $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg) $*" >> $O/$name.txt; flock /tmp/kith-bench.lock "$@" >> $O/$name.txt 2>&1; echo "== end $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O/$name.txt; }
for order in 'nice plain' 'plain nice'; do for t in $order; do
  if [ $t = nice ]; then (while true; do T=(); for p in $(pgrep -f TestCrowdHelper); do for x in /proc/$p/task/*; do T+=(${x##*/}); done; done; [ ${#T[@]} -gt 0 ] && renice -n 10 -p "${T[@]}" >/dev/null 2>&1; sleep 0.5; done) & L=$!; fi
  (cd /tmp/qa/share && run n500-$t ../share.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=500$/arrive=once' -test.benchtime 1x)
  if [ $t = nice ]; then kill $L; fi
done; done
echo done > $O/DONE

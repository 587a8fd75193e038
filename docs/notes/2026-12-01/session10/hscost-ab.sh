#!/bin/bash
# usage: ab.sh rounds binA binB ... ; runs the cells alternated
cd /work/wt/hscost/share
rounds=$1; shift
for r in $(seq $rounds); do
 for bin in "$@"; do
  for cell in 'FlashCrowd/size=8MiB/N=10$/arrive=once$' 'FlashCrowd/size=8MiB/N=50$/arrive=once$' 'FlashCrowd/size=64MiB/N=10$/arrive=once$'; do
   l0=$(cut -d' ' -f1-3 /proc/loadavg)
   out=$(/tmp/hscost/$bin.test -test.run '^$' -test.bench "$cell" -test.benchtime 1x 2>&1 | grep -E "^Bench")
   m=$(echo "$out" | tr '\t' '\n' | grep -E "conns/dev|cpu_s$|s_all|s_bound|x_bound|x_cpu$|origin_x$|ms/hs_bound" | sed 's/^ *//' | awk '{print $2"="$1}' | tr '\n' ' ')
   echo "r$r $bin $(echo $cell | cut -d/ -f2,3) load[$l0] $m"
  done
 done
done

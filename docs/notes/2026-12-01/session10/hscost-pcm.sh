#!/bin/bash
cd /work/wt/hscost/share
for r in 1 2; do for bin in main new; do
 l0=$(cut -d' ' -f1-3 /proc/loadavg)
 out=$(/tmp/hscost/$bin.test -test.run '^$' -test.bench 'NeighbourFirstPCM' -test.benchtime 20x 2>&1 | grep -E "^Bench|FAIL")
 echo "r$r $bin load[$l0] $(echo "$out" | tr '\t' ' ' | tr -s ' ')"
done; done

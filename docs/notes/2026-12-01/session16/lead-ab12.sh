#!/bin/bash
# Extra alternated A/B of one cell (lead, session 12): ab12.sh OUT ROUNDS BENCHREGEX BIN_A BIN_B (binaries by folder: /tmp/X/share.test)
O=$1; R=$2; B=$3; shift 3
for r in $(seq $R); do for t in "$@"; do
  (cd /tmp/$t/share && echo "== $t $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $O && flock /tmp/kith-bench.lock ../share.test -test.run '^$' -test.bench "$B" -test.benchtime 1x 2>&1 | grep '^Benchmark' | sed "s/^/$t /" >> $O)
done; done
echo DONE >> $O

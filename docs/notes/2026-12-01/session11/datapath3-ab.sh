#!/bin/sh
# ab.sh OUT ROUNDS BIN... : alternated A/B under the bench lock, from share/
cd "$(git rev-parse --show-toplevel)/share"  # from a checkout of the commit measured
out=$1; rounds=$2; shift 2
for r in $(seq 1 $rounds); do
  if [ $((r % 2)) -eq 1 ]; then order="$*"; else order=$(echo "$*" | awk '{for(i=NF;i>0;i--) printf "%s ", $i}'); fi
  for bin in $order; do
    echo "== round $r $bin load $(cut -d' ' -f1-3 /proc/loadavg) $(date +%T)" >> $out
    flock /tmp/kith-bench.lock sh -c "/tmp/datapath3/$bin.test -test.run '^\$' -test.bench 'ChunkPath/fetch' -test.benchtime 3x; /tmp/datapath3/$bin.test -test.run '^\$' -test.bench 'FlashCrowd/size=(8|64)MiB/N=10\$/arrive=once\$' -test.benchtime 1x; /tmp/datapath3/$bin.test -test.run '^\$' -test.bench 'FlashCrowd/size=(8|64)MiB/N=50\$/arrive=once\$' -test.benchtime 1x" 2>&1 | grep '^Bench' >> $out
    echo "== end load $(cut -d' ' -f1-3 /proc/loadavg) $(date +%T)" >> $out
  done
done
echo DONE >> $out

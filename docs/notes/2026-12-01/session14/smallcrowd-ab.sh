#!/bin/bash
# ab.sh OUT ROUNDS A B  : per round both binaries (order alternates), cells CrowdFixed N=10, 8MiB N=10 once, 8MiB N=10 poisson
cd /work/wt/smallcrowd/share
out=$1; n=$2; A=$3; B=$4
for r in $(seq 1 $n); do
  if [ $((r%2)) = 1 ]; then order="$A $B"; else order="$B $A"; fi
  for cell in 'FlashCrowd/size=8MiB/N=10$/arrive=once$' 'CrowdFixed/N=10$'; do
    for bin in $order; do
      l=$(cut -d' ' -f1-3 /proc/loadavg)
      res=$(flock /tmp/kith-bench.lock $bin -test.run '^$' -test.bench "$cell" -test.benchtime 1x 2>&1 | grep Benchmark)
      echo "r$r $(basename $bin) load=[$l] $res" >> $out
    done
  done
done
echo done >> $out

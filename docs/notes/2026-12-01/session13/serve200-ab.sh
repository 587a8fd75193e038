#!/bin/bash
# usage: ab.sh OUT ROUNDS CELLS A.test B.test   (CELLS: space-separated bench regexps)
# Per round and cell, both binaries (order reversed every other round), each run
# alone under the bench lock, with KITH_CROWD_PROFILE, loadavg recorded before.
out=$1; rounds=$2; cells=$3; a=$4; b=$5
mkdir -p $out; cd (the serve200 worktree)/share
for r in $(seq 1 $rounds); do
  for cell in $cells; do
    if [ $((r % 2)) = 1 ]; then order="$a $b"; else order="$b $a"; fi
    for x in $order; do
      n=$(basename $x .test); tag=r$r-$(echo $cell | tr -c 'a-zA-Z0-9' _ | sed 's/_*$//')-$n
      prof=$out/prof-$tag; mkdir -p $prof
      flock /tmp/kith-bench.lock bash -c "echo \"== $tag \$(date +%H:%M:%S) load \$(cut -d' ' -f1-3 /proc/loadavg)\" >> $out/log; KITH_CROWD_PROFILE=$prof $x -test.run '^\$' -test.bench '$cell' -test.benchtime 1x 2>&1 | grep -E '^Benchmark|FAIL|panic' >> $out/log; echo \"   after load \$(cut -d' ' -f1-3 /proc/loadavg)\" >> $out/log"
    done
  done
done
echo DONE >> $out/log

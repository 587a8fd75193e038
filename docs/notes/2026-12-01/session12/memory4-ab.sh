#!/bin/bash
# usage: ab.sh OUT ROUNDS A B   (test binaries; run from share/)
out=$1; rounds=$2; A=$3; B=$4
cd (the engineer's worktree)/share
for r in $(seq 1 $rounds); do
  if [ $((r % 2)) = 1 ]; then order="$A $B"; else order="$B $A"; fi
  for cell in 'FlashCrowd/size=8MiB/N=50$/arrive=once$' 'FlashCrowd/size=64MiB/N=10$/arrive=once$'; do
    for bin in $order; do
      name=$(basename $bin .test)
      probe=/tmp/memory4/probe-$name-$r-$(echo $cell | grep -oE '[0-9]+MiB/N=[0-9]+' | tr '/=' '__').txt
      rm -f $probe
      l0=$(cut -d' ' -f1-3 /proc/loadavg)
      res=$(KITH_CROWD_PROBE=$probe flock /tmp/kith-bench.lock $bin -test.run '^$' -test.bench "$cell" -test.benchtime 1x 2>&1 | grep Benchmark | tr '\t' ' ')
      l1=$(cut -d' ' -f1-3 /proc/loadavg)
      cpu=$(echo "$res" | grep -oE '[0-9.]+ cpu_s' | cut -d' ' -f1)
      xb=$(echo "$res" | grep -oE '[0-9.]+ x_bound' | cut -d' ' -f1)
      flt=$(awk -F'[ =]' '{f+=$4; g+=$8; c+=$10; n++} END{printf "minflt/child=%d gc_s=%.3f child_cpu_s=%.3f gcshare=%.3f", f/n, g, c, g/c}' $probe)
      echo "r=$r $name $(echo $cell | grep -oE '[0-9]+MiB/N=[0-9]+') cpu_s=$cpu x_bound=$xb $flt load=[$l0]->[$l1] $(date -u +%T)" | tee -a $out
    done
  done
done

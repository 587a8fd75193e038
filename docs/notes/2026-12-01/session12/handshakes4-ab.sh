#!/bin/bash
# usage: ab.sh ROUNDS binA binB  (binaries in /tmp/handshakes4/NAME.test); run from share/
R=$1; A=$2; B=$3; out=/tmp/handshakes4/ab-$(date +%H%M).txt
cd (the engineer's worktree)/share
for r in $(seq $R); do
  if [ $((r%2)) = 1 ]; then order="$A $B"; else order="$B $A"; fi
  for x in $order; do
    l0=$(cut -d' ' -f1-3 /proc/loadavg)
    res=$(flock /tmp/kith-bench.lock /tmp/handshakes4/$x.test -test.run '^$' -test.bench 'FlashCrowd/size=8MiB/N=(10|50)$/arrive=once$' -test.benchtime 1x 2>&1 | grep '^Bench')
    l1=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "$res" | while read -r line; do
      cell=$(echo "$line" | awk '{print $1}' | sed 's/BenchmarkFlashCrowd\///; s/-2$//')
      get() { echo "$line" | grep -o "[0-9.e+-]* $1" | head -1 | awk '{print $1}'; }
      echo "$r $x $cell conns=$(get conns/dev) cpu_s=$(get cpu_s) x_bound=$(get x_bound) x_cpu=$(get x_cpu) origin_x=$(get 'origin_x\b') load0=$l0 load1=$l1"
    done | tee -a $out
  done
done

#!/bin/bash
# usage: ab.sh ROUNDS OUTDIR CELLS... ; binaries /tmp/heartbeat5/A.test B.test; odd rounds A,B even B,A
R=$1; OUT=$2; shift 2
cd (the heartbeat5 worktree)/share
for r in $(seq 1 $R); do
  if [ $((r%2)) = 1 ]; then order="A C"; else order="C A"; fi
  for cell in "$@"; do
    for x in $order; do
      d=$OUT/r$r-$x-$(echo $cell | tr -dc '0-9')
      mkdir -p $d
      flock /tmp/kith-bench.lock bash -c "echo load \$(cat /proc/loadavg) \$(date +%T) > $d/out; KITH_CROWD_PROFILE=$d /tmp/heartbeat5/$x.test -test.run '^\$' -test.bench 'FlashCrowd/size=8MiB/N=$cell\$/arrive=once\$' -test.benchtime 1x >> $d/out 2>&1"
    done
  done
done
echo done > $OUT/DONE

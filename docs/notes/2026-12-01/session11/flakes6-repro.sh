#!/bin/bash
# usage: repro.sh BIN N TAG [extra env...]  — start kith under one Xvfb N times, SIGTERM once ready, count exits
BIN=$1; N=$2; TAG=$3; shift 3
D=/tmp/flakes6/rep-$TAG; rm -rf $D; mkdir -p $D/home $D/run
exec 3< <(Xvfb -displayfd 4 -screen 0 1280x800x24 -nolisten tcp -noreset 4>&1 2>/dev/null)
XPID=$!
read -u 3 n; DISP=":$n"
ok=0; bad=0; hang=0
for i in $(seq 1 $N); do
  log=$D/run$i.log
  env "$@" DISPLAY=$DISP HOME=$D/home XDG_RUNTIME_DIR=$D/run XDG_CONFIG_HOME=$D/home/config XDG_DATA_HOME=$D/home/data \
    $BIN --data $D/data --no-lan --household 127.0.0.1:0 --name living-room --view settings >$log 2>&1 &
  pid=$!
  for j in $(seq 1 300); do grep -q "kith ready" $log && break; sleep 0.1; done
  sleep ${DELAY:-0.5}
  kill -TERM $pid
  for j in $(seq 1 200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  if kill -0 $pid 2>/dev/null; then hang=$((hang+1)); cp $log $D/hang$i.log; kill -QUIT $pid; sleep 1; kill -9 $pid 2>/dev/null; wait $pid; continue; fi
  wait $pid; rc=$?
  if [ $rc = 0 ]; then ok=$((ok+1)); else bad=$((bad+1)); cp $log $D/fail$i.log; echo "run $i rc $rc: $(grep -m1 panic $log)"; fi
  rm -f $log
done
kill $XPID 2>/dev/null
echo "$TAG: ok $ok fail $bad hang $hang of $N  load $(cut -d' ' -f1-3 /proc/loadavg)"

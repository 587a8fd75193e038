#!/bin/bash
# per run dir: load, cpu_s, s_all, children total samples, heartbeat/announcement/HeldContent/Policies cum, directory total & handleAnnounce, announce counts, in/out bytes
export PATH=/usr/local/go/bin:$PATH
for d in "$@"; do
  x=$(basename $d | cut -d- -f2)
  bin=/tmp/heartbeat5/$x.test
  top=$(go tool pprof -top -cum -nodefraction=0 -nodecount=100000 $bin $d/group-?.pprof 2>/dev/null)
  tot=$(echo "$top" | grep -o "Total samples = [0-9.]*m\?s" | grep -o "[0-9.]*m\?s")
  g() { echo "$top" | grep -E "$1\$" | head -1 | awk '{print $4}'; }
  dtop=$(go tool pprof -top -cum -nodefraction=0 -nodecount=100000 $bin $d/directory.pprof 2>/dev/null)
  dtot=$(echo "$dtop" | grep -o "Total samples = [0-9.]*m\?s" | grep -o "[0-9.]*m\?s")
  dg() { echo "$dtop" | grep -E "$1\$" | head -1 | awk '{print $4}'; }
  m=$d/directory.metrics
  c() { grep -F "$1" $m | awk '{print $2}'; }
  echo "$(basename $d) load=$(head -1 $d/out | cut -d' ' -f2) cpu_s=$(grep -o '[0-9.]* cpu_s' $d/out | cut -d' ' -f1) s_all=$(grep -o '[0-9.]* s_all' $d/out | cut -d' ' -f1) kids=$tot heartbeat=$(g 'share.\(\*Node\).heartbeat') announcement=$(g 'share.\(\*Node\).announcement') HeldContent=$(g 'library.\(\*Library\).HeldContent') Policies=$(g 'library.\(\*Library\).Policies') AnnounceStatus=$(g 'directory.\(\*Client\).AnnounceStatus') | dir=$dtot handleAnnounce=$(dg 'directory.\(\*Server\).handleAnnounce') | ann=$(c 'route="announce",status="200"') same=$(c 'route="announce_same",status="200"') a409=$(c 'route="announce",status="409"') sup=$(c 'route="suppliers",status="200"') in=$(c 'kith_probe_in_bytes{route="announce"}') out=$(c 'kith_probe_out_bytes{route="announce"}')"
done

#!/bin/bash
# profsum.sh ABDIR: per run, the children's samples and the SQL-side items (pprof -top -cum)
export PATH=/usr/local/go/bin:$PATH
cd $1
for d in prof-r*; do b=$(echo $d | sed 's/.*-//'); [ -s $d/group-0.pprof ] || continue
 printf "%-46s " $(echo $d | sed 's/prof-//;s/FlashCrowd_size_//;s/__arrive_once//')
 go tool pprof -top -cum /tmp/serve200/$b.test $d/group-[0-9].pprof 2>/dev/null | awk '/Total samples/{for(i=1;i<=NF;i++) if($i=="=") t=$(i+1)} /database\/sql.withLock$/{s=$4} /Library\).RecordAll$/{r=$4} /_sqlite3_prepare_v2_internal$/{p=$4} /runtime.cgocall$/{c=$4} /Library\).HeldContent$/{h=$4} /Library\).flushLocked$/{f=$4} END{printf "samples %6s sql %5s prepare %5s RecordAll %5s HeldContent %5s flushLocked %5s cgo %5s\n", t, s, p, r, h, f, c}'
done

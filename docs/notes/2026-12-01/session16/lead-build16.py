#!/usr/bin/env python3
# Closing note = header.md + each engineer's note (capped so the whole stays under 64 KiB; the whole notes are in
# docs/notes/2026-12-01/session16/).
import os
ORDER = ["lead", "cpu200", "chunkalloc", "swarmsim6", "stall64b", "stall64", "review10", "review10b", "review11"]
LIMIT = 63 * 1024
out = open("/work/notes/out/header.md").read().rstrip() + "\n\n"
notes = [(n, open(f"/work/notes/{n}.md").read()) for n in ORDER if os.path.exists(f"/work/notes/{n}.md")]
for i, (n, t) in enumerate(notes):
    room = (LIMIT - len(out.encode())) // (len(notes) - i)
    b = t.encode()
    if len(b) > room:
        cut = b[:room - 200].decode("utf-8", "ignore")
        cut = cut[:cut.rfind("\n")]
        t = cut + f"\n\n… (cut here; the whole note: docs/notes/2026-12-01/session16/{n}.md)\n"
    out += "---\n\n" + t.rstrip() + "\n\n"
open("/work/notes/out/closing.md", "w").write(out)
print(len(out.encode()), "bytes;", [n for n, _ in notes])

// The executable's code is counted in the daemon's resident memory for every page it ever ran
// (clean pages of read-only file mappings, kept until the host runs short of memory): starting up
// runs a lot of it once, and a burst of work (a few dozen containers) faults in more than ten
// MiB of it, in 64 KiB steps, that a quiet daemon does not need. Those pages leave the process
// (Bun only, through bun:ffi's madvise): once after the first registration, and again when the
// daemon has been quiet for a while after work (src/runtime/bun.ts, settled and quiet).
// MADV_DONTNEED takes the pages out of the process and leaves them in the page cache: the next
// event maps what it runs again from memory (minor faults), never from disk.
//
// Nothing is paged out: a page-out (MADV_PAGEOUT) after the first sync took code the event path
// runs out of the page cache too, and reading it back from disk on the next events made the
// registration latency spike (p95 and max, bench/latency.ts --ours side by side).
//
// Only mappings that are read-only, file-backed and hold no private (copy-on-write) page are
// touched: for those, dropping a page cannot lose anything; the next access reads the same bytes
// from the file. Anything unexpected skips the trim and never fails the daemon.

import { readFileSync } from "node:fs";

/** One mapping of /proc/self/smaps that can be dropped. */
export interface Droppable {
  start: number;
  end: number;
  rssKb: number;
  path: string;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/;

/**
 * The mappings of an smaps text that are safe to drop: readable, not writable, backed by a file
 * (inode ≠ 0), resident, and without anonymous or swapped pages (nothing copied on write).
 */
export function droppableMappings(smaps: string): Droppable[] {
  const out: Droppable[] = [];
  let cur: { start: number; end: number; ok: boolean; path: string; rss: number; anon: number; swap: number } | undefined;
  const flush = () => {
    if (cur?.ok && cur.rss > 0 && cur.anon === 0 && cur.swap === 0) {
      out.push({ start: cur.start, end: cur.end, rssKb: cur.rss, path: cur.path });
    }
  };
  for (const line of smaps.split("\n")) {
    const h = HEADER.exec(line);
    if (h) {
      flush();
      const perms = h[3]!;
      const ok = perms[0] === "r" && perms[1] === "-" && perms[3] === "p" && h[4] !== "0" && h[5]!.startsWith("/");
      cur = { start: parseInt(h[1]!, 16), end: parseInt(h[2]!, 16), ok, path: h[5]!, rss: 0, anon: -1, swap: -1 };
      continue;
    }
    if (!cur) continue;
    const f = /^(Rss|Anonymous|Swap):\s+(\d+) kB/.exec(line);
    if (!f) continue;
    const kb = Number(f[2]);
    if (f[1] === "Rss") cur.rss = kb;
    else if (f[1] === "Anonymous") cur.anon = kb;
    else cur.swap = kb;
  }
  flush();
  return out;
}

const MADV_DONTNEED = 4;

type Madvise = (start: bigint, length: bigint, advice: number) => number;
let madviseFn: Madvise | undefined;

/** libc's madvise through bun:ffi, loaded once and kept (its call stub is compiled on load). */
async function libcMadvise(): Promise<Madvise> {
  if (!madviseFn) {
    const { dlopen, FFIType } = await import("bun:ffi");
    const libc = dlopen("libc.so.6", { madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 } });
    madviseFn = libc.symbols.madvise as Madvise;
  }
  return madviseFn;
}

/** Drops the droppable mappings of this process; returns the KiB they held, or why nothing was done. */
export async function dropFilePages(): Promise<{ droppedKb: number } | { error: string }> {
  try {
    const madvise = await libcMadvise();
    // Read after loading bun:ffi: what loading it touched can go too.
    let droppedKb = 0;
    for (const m of droppableMappings(readFileSync("/proc/self/smaps", "utf8"))) {
      if (madvise(BigInt(m.start), BigInt(m.end - m.start), MADV_DONTNEED) === 0) droppedKb += m.rssKb;
    }
    return { droppedKb };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

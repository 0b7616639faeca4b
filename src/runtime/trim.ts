// Starting up touches a lot of the executable's code that the daemon never runs again (the
// runtime's own initialisation, loading modules and their bytecode, parsing flags, building the
// HTTP app): clean pages of read-only file mappings that stay counted in its resident memory until
// the host runs short of memory. Two moments drop them (Bun only, through bun:ffi's madvise):
//
// - "drop", before the program's modules load (cli.ts): MADV_DONTNEED takes the pages out of the
//   process and leaves them in the page cache, where what loading the modules needs again is
//   found at once.
// - "page-out", once startup and the first sync are over (runtime/bun.ts): MADV_PAGEOUT, so pages
//   that only this process maps leave memory (shared ones, such as libc's, stay), with readahead
//   off for those mappings (MADV_RANDOM), so what the daemon still runs comes back one page at a
//   time, not in 128 KiB blocks around each fault. Kernels before 5.4 have no MADV_PAGEOUT: there
//   MADV_DONTNEED.
//
// bench/footprint.ts: idle RSS 42.5 → 16.0 MiB (31.5 MiB once it has served its HTTP API), peak
// 42.7 → 39.5 MiB; bench/latency.ts: the same event latencies, about 5 ms more to the first
// registration.
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

const MADV_RANDOM = 1;
const MADV_DONTNEED = 4;
const MADV_PAGEOUT = 21;

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

/**
 * Drops ("drop") or pages out ("page-out") the droppable mappings of this process; returns the
 * KiB they held, or why nothing was done.
 */
export async function dropStartupPages(how: "drop" | "page-out"): Promise<{ droppedKb: number } | { error: string }> {
  try {
    const madvise = await libcMadvise();
    const advise = (m: Droppable, advice: number) => madvise(BigInt(m.start), BigInt(m.end - m.start), advice) === 0;
    // Read after loading bun:ffi: what loading it touched can go too.
    let droppedKb = 0;
    for (const m of droppableMappings(readFileSync("/proc/self/smaps", "utf8"))) {
      let done: boolean;
      if (how === "drop") {
        done = advise(m, MADV_DONTNEED);
      } else {
        advise(m, MADV_RANDOM);
        done = advise(m, MADV_PAGEOUT) || advise(m, MADV_DONTNEED);
      }
      if (done) droppedKb += m.rssKb;
    }
    return { droppedKb };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

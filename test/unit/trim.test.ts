import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { droppableMappings, dropFilePages } from "../../src/runtime/trim.ts";

// A trimmed /proc/self/smaps of the compiled daemon: the executable's read-only code and data,
// its RELRO part (copied on write by the loader), its writable data, the JS heap, libc, [vdso].
const SMAPS = `00200000-01a39000 r--p 00000000 fe:00 5308612                            /opt/registrator
Size:              24804 kB
Rss:                4964 kB
Anonymous:             0 kB
Swap:                  0 kB
01a40000-0684a000 r-xp 01838000 fe:00 5308612                            /opt/registrator
Size:              80936 kB
Rss:               29256 kB
Anonymous:             0 kB
Swap:                  0 kB
0684a000-06867000 r--p 06641000 fe:00 5308612                            /opt/registrator
Size:                116 kB
Rss:                 116 kB
Anonymous:           116 kB
Swap:                  0 kB
06867000-06d53000 rw-p 0665e000 fe:00 5308612                            /opt/registrator
Size:               5040 kB
Rss:                1588 kB
Anonymous:           400 kB
Swap:                  0 kB
383a7a00000-383e7a00000 rw-p 00000000 00:00 0 
Size:            1048576 kB
Rss:                4760 kB
Anonymous:          4760 kB
Swap:                  0 kB
7fe9dc0ac000-7fe9dc202000 r-xp 00026000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               1368 kB
Rss:                1168 kB
Anonymous:             0 kB
Swap:                  0 kB
7fe9dc202000-7fe9dc257000 r--p 0017c000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6
Size:                340 kB
Rss:                   0 kB
Anonymous:             0 kB
Swap:                  0 kB
7fe9dc300000-7fe9dc310000 r--p 00000000 fe:00 339999                     /usr/lib/x86_64-linux-gnu/libswapped.so
Size:                 64 kB
Rss:                  12 kB
Anonymous:             0 kB
Swap:                  8 kB
7ffd5a1f6000-7ffd5a1f8000 r-xp 00000000 00:00 0                          [vdso]
Size:                  8 kB
Rss:                   4 kB
Anonymous:             0 kB
Swap:                  0 kB
`;

describe("startup page trim", () => {
  test("only read-only, file-backed, resident mappings without private pages are dropped", () => {
    expect(droppableMappings(SMAPS)).toEqual([
      { start: 0x200000, end: 0x1a39000, rssKb: 4964, path: "/opt/registrator" },
      { start: 0x1a40000, end: 0x684a000, rssKb: 29256, path: "/opt/registrator" },
      { start: 0x7fe9dc0ac000, end: 0x7fe9dc202000, rssKb: 1168, path: "/usr/lib/x86_64-linux-gnu/libc.so.6" },
    ]);
  });

  test("a mapping whose fields are missing is left alone", () => {
    expect(droppableMappings("00200000-01a39000 r--p 00000000 fe:00 5308612 /opt/registrator\nRss: 4 kB\n")).toEqual([]);
    expect(droppableMappings("")).toEqual([]);
  });

  test("in this process: code pages leave the resident set, and running on afterwards is unaffected", async () => {
    const rssFile = () => Number(/^RssFile:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))![1]);
    const before = rssFile();
    const r = await dropFilePages();
    expect("error" in r ? r.error : "").toBe("");
    expect("droppedKb" in r && r.droppedKb).toBeGreaterThan(0);
    expect(rssFile()).toBeLessThan(before);
    // The dropped code runs again from the page cache.
    expect(JSON.parse(JSON.stringify({ a: [1, 2, 3] }))).toEqual({ a: [1, 2, 3] });
  });
});

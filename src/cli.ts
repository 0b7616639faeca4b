#!/usr/bin/env bun
// Entry point. On Bun, the runtime's own start-up has touched some 25 MiB of the executable that
// will not run again before the program's modules load: those pages leave the process first (they
// stay in the page cache, src/runtime/trim.ts), so the peak resident memory of starting up is
// about 5 MiB lower, for a few milliseconds more to the first registration (bench/footprint.ts,
// bench/latency.ts). Then the program.
if (typeof Bun !== "undefined") await (await import("./runtime/trim.ts")).dropStartupPages();
await import("./main.ts");

export {};

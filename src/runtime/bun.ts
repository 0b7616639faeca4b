import { listInterfaces } from "./net.ts";
import type { Runtime, TlsOptions } from "./types.ts";

/** node:fs, loaded when first used: loading it costs milliseconds of every start (bench/startup.ts). */
const fs = () => process.getBuiltinModule("node:fs") as typeof import("node:fs");

/** RssFile of this process, KiB (0 when unknown). */
function residentFileKb(): number {
  try {
    return Number(/^RssFile:\s+(\d+) kB/m.exec(fs().readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * A trim (trim.ts) is worth its CPU (reading /proc/self/smaps) when the executable's resident
 * code grew by this much since the last one.
 */
const TRIM_AFTER_GROWTH_KB = 2048;

/** A full collection that also drops compiled code and gives free heap back (Bun.shrink is not in Bun's typings). */
function shrink(): void {
  const bunShrink = (Bun as unknown as { shrink?: () => void }).shrink;
  if (bunShrink) bunShrink();
  else Bun.gc(true);
}

export function bunRuntime(): Runtime {
  let trimmed: Promise<void> | undefined;
  let trimmedAtKb = 0;
  const trim = () =>
    import("./trim.ts").then(async (t) => {
      await t.dropFilePages();
      trimmedAtKb = residentFileKb();
    });
  let settleTimer: ReturnType<typeof setTimeout> | undefined;
  return {
    name: "bun",
    fetchUnix(socketPath) {
      return ((input: RequestInfo | URL, init?: RequestInit) =>
        fetch(input, { ...init, unix: socketPath } as RequestInit)) as typeof fetch;
    },
    fetchTls(o: TlsOptions) {
      const tls = {
        ...(o.ca ? { ca: o.ca } : {}),
        ...(o.cert ? { cert: o.cert } : {}),
        ...(o.key ? { key: o.key } : {}),
        ...(o.serverName ? { serverName: o.serverName } : {}),
        rejectUnauthorized: !o.insecure,
      };
      return ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, tls } as RequestInit)) as typeof fetch;
    },
    async serve(handler, o) {
      const server = Bun.serve({
        hostname: o.hostname,
        port: o.port,
        idleTimeout: o.idleTimeout ?? 0,
        fetch: (req, srv) => {
          if (o.idleTimeout && o.longPoll?.(req)) srv.timeout(req, 0);
          return handler(req, { setIdleTimeout: (s) => srv.timeout(req, s) });
        },
      });
      return { port: server.port ?? o.port, close: async () => void (await server.stop(true)) };
    },
    onSignal(signal, handler) {
      process.on(signal, handler);
    },
    env: (name) => process.env[name],
    envAll: () => ({ ...process.env }) as Record<string, string>,
    args: () => process.argv.slice(2),
    readTextFile: async (path) => fs().readFileSync(path, "utf8"),
    networkInterfaces: listInterfaces,
    exists: async (path) => fs().existsSync(path),
    exit: (code) => process.exit(code),
    collect: () => Bun.gc(false),
    quiet() {
      // What the work allocated is garbage now: collected (synchronously, so that the code pages
      // it runs are faulted in before they are dropped: Bun.shrink finishes later), then the code
      // pages the work faulted in leave.
      Bun.gc(true);
      if (trimmedAtKb > 0 && residentFileKb() - trimmedAtKb >= TRIM_AFTER_GROWTH_KB) void trim();
    },
    settled() {
      // The compiled executable runs with the JIT's tier-up thresholds raised (build.ts,
      // jitPolicy), and keeps them: a daemon that handles a few events a second spends less CPU
      // and memory interpreting them than compiling them with the optimizing tiers
      // (bench/latency.ts, side by side with the normal policy: CPU 1.0 vs 1.1 s, RssAnon
      // 9.0 vs 12.3 MiB, registration p50 4.2 vs 4.5 ms).
      Bun.gc(true);
      // Once: the executable's pages that starting up touched leave the process (trim.ts). Here,
      // after the first registration, not before the modules load, where it cost milliseconds of
      // every start (bench/startup.ts).
      trimmed ??= trim();
      // A second after the last call, once what the sync left is all garbage: a full collection
      // that also drops compiled code and gives free heap back (bench/scale.ts at 10,000
      // containers: about 3 MiB less than a plain collection; Bun.shrink is not in Bun's
      // typings). (The code pages only startup ran left at startup, trim.ts.)
      clearTimeout(settleTimer);
      settleTimer = setTimeout(shrink, 1000);
      settleTimer.unref();
    },
  };
}

import { listInterfaces } from "./net.ts";
import type { Runtime, TlsOptions } from "./types.ts";

// Deno's globals, typed just enough for what we call (no dependency on Deno's type package).
interface DenoLike {
  createHttpClient(o: Record<string, unknown>): unknown;
  serve(o: Record<string, unknown>, h: (req: Request) => Response | Promise<Response>): {
    addr: { port: number };
    shutdown(): Promise<void>;
  };
  addSignalListener(sig: string, h: () => void): void;
  env: { get(n: string): string | undefined; toObject(): Record<string, string> };
  args: string[];
  readTextFile(p: string): Promise<string>;
  stat(p: string): Promise<unknown>;
  exit(code: number): never;
}

export function denoRuntime(): Runtime {
  const D = (globalThis as unknown as { Deno: DenoLike }).Deno;
  const withClient = (client: unknown) =>
    ((input: RequestInfo | URL, init?: RequestInit) =>
      fetch(input, { ...init, client } as RequestInit)) as typeof fetch;
  return {
    name: "deno",
    fetchUnix: (path) => withClient(D.createHttpClient({ proxy: { transport: "unix", path } })),
    fetchTls(o: TlsOptions) {
      if (o.insecure) {
        // Deno has no per-client switch to skip verification; the process-wide one is the only way.
        throw new Error("Skipping TLS verification needs Bun, or Deno with --unsafely-ignore-certificate-errors");
      }
      return withClient(
        D.createHttpClient({
          ...(o.ca ? { caCerts: [o.ca] } : {}),
          ...(o.cert && o.key ? { cert: o.cert, key: o.key } : {}),
        }),
      );
    },
    async serve(handler, o) {
      const conn = { setIdleTimeout: () => {} };
      const server = D.serve({ hostname: o.hostname, port: o.port, onListen: () => {} }, (req) => handler(req, conn));
      return { port: server.addr.port, close: () => server.shutdown() };
    },
    onSignal: (sig, h) => D.addSignalListener(sig, h),
    env: (n) => D.env.get(n),
    envAll: () => D.env.toObject(),
    args: () => D.args,
    readTextFile: (p) => D.readTextFile(p),
    networkInterfaces: listInterfaces,
    exists: async (p) => {
      try {
        await D.stat(p);
        return true;
      } catch {
        return false;
      }
    },
    exit: (code) => D.exit(code),
  };
}

/** TLS material for fetchTls, as PEM text. */
export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  /** Skip certificate verification. */
  insecure?: boolean;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  /** Close connections idle this many seconds (0 = never); Bun only (Deno keeps its defaults). */
  idleTimeout?: number;
  /** Requests exempt from the idle timeout (blocking queries, event streams). */
  longPoll?: (req: Request) => boolean;
}

/** What a request handler may do to the connection its request came on. */
export interface Connection {
  /**
   * Close the connection after this many seconds without I/O (0: never). Bun honours it; Deno
   * has no per-connection timeout, so there it does nothing.
   */
  setIdleTimeout(seconds: number): void;
}

export interface Server {
  /** The bound port (useful when 0 was asked for). */
  port: number;
  close(): Promise<void>;
}

/** Network interfaces by name, each with its addresses in the system's order. */
export type NetInterfaces = Readonly<Record<string, ReadonlyArray<{ address: string; family: "IPv4" | "IPv6"; internal: boolean }> | undefined>>;

/** Everything registrator needs from Bun or Deno. Core code gets these, never the globals. */
export interface Runtime {
  readonly name: "bun" | "deno";
  /** A fetch that sends every request to the unix socket; use http://localhost/... URLs. */
  fetchUnix(socketPath: string): typeof fetch;
  /** A fetch with custom TLS settings (CA, client certificate, SNI, skip-verify). */
  fetchTls(options: TlsOptions): typeof fetch;
  serve(handler: (req: Request, conn: Connection) => Response | Promise<Response>, options: ServeOptions): Promise<Server>;
  onSignal(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  env(name: string): string | undefined;
  envAll(): Record<string, string>;
  args(): string[];
  readTextFile(path: string): Promise<string>;
  /** This host's network interfaces and their addresses (for -ip eth0 / -ip 10.0.0.0/8). */
  networkInterfaces(): NetInterfaces;
  exists(path: string): Promise<boolean>;
  exit(code: number): never;
  /**
   * Run-once startup code is over (connections opened, HTTP API up), and again once the first
   * sync is applied: undo what only startup needed, e.g. a JIT held back while that code ran, and
   * return the garbage it left behind. Called more than once.
   */
  settled?(): void;
  /** Ask for a garbage collection without waiting for it (between batches of a large job). */
  collect?(): void;
  /**
   * The daemon has been quiet for a while after work: give back what the work paged in that a
   * quiet daemon does not need (the executable's code pages, trim.ts). Cheap when nothing grew.
   */
  quiet?(): void;
}

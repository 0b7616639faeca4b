// Real etcd 3.4 servers for integration tests: one member or a three-member cluster on free
// loopback ports in temp dirs, optionally with TLS (certificates made with openssl) and auth.
// Each server is stopped by its own PID. Helpers read etcd directly, never through our adapters.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Proc, freePort, run, spawn, tempDir, waitFor } from "./proc.ts";

export const ETCD_BIN = "/usr/bin/etcd";
export const etcdAvailable = existsSync(ETCD_BIN);

/** True (with a loud note) when etcd is missing on a developer machine; in CI nothing skips. */
export function etcdMissing(): boolean {
  if (etcdAvailable || process.env.CI === "true" || process.env.CI === "1") return false;
  console.error(`\n*** SKIPPING etcd tests: ${ETCD_BIN} is not installed (Debian: etcd-server)\n`);
  return true;
}

export interface EtcdTls {
  certFile: string;
  keyFile: string;
  caFile?: string;
  clientCertAuth?: boolean;
}

export interface StartEtcdOptions {
  v2?: boolean;
  tls?: EtcdTls;
  name?: string;
  /** Where the member's temp data dir is made (default: the OS temp dir). */
  under?: string;
}

export interface KeyValue {
  key: string;
  value: string;
  lease?: string;
}

/** TLS material the helpers use to talk to a TLS etcd (PEM file paths). */
export interface ClientTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString("utf8");

function rangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  const end = Buffer.from(bytes);
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  return end.toString("base64");
}

/** A running watch of a prefix (Etcd.watch). */
export interface EtcdWatch {
  /** Every write under the prefix since the watch was confirmed, in etcd's order. */
  readonly events: Array<{ type: "PUT" | "DELETE"; key: string; value: string }>;
  /** False once the stream ended (stopped, or etcd went away): no later write would be seen. */
  open: boolean;
  stop(): Promise<void>;
}

interface MemberPorts {
  client: number;
  peer: number;
  metrics: number;
}

export class Etcd {
  proc?: Proc;
  readonly endpoint: string;
  readonly clientUrl: string;
  readonly metricsUrl: string;
  readonly peerUrl: string;
  /** Root credentials after enableAuth(); the helpers then authenticate. */
  private auth?: { user: string; password: string; token?: string };
  /** For the helpers when the server wants TLS. */
  clientTls?: ClientTls;

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly ports: MemberPorts,
    private readonly initialCluster: string,
    private readonly opts: StartEtcdOptions,
    private readonly clusterToken: string,
  ) {
    const scheme = opts.tls ? "https" : "http";
    this.endpoint = `127.0.0.1:${ports.client}`;
    this.clientUrl = `${scheme}://${this.endpoint}`;
    this.metricsUrl = `http://127.0.0.1:${ports.metrics}`;
    this.peerUrl = `http://127.0.0.1:${ports.peer}`;
    if (opts.tls) this.clientTls = { caFile: opts.tls.caFile, certFile: opts.tls.certFile, keyFile: opts.tls.keyFile };
  }

  get pid(): number | undefined {
    return this.proc?.running ? this.proc.pid : undefined;
  }

  get running(): boolean {
    return !!this.proc?.running;
  }

  /** Starts the process (fresh or on the existing data dir); does not wait. */
  launch(): void {
    const o = this.opts;
    const args = [
      ETCD_BIN,
      "--name", this.name,
      "--data-dir", join(this.dataDir, "data"),
      "--listen-client-urls", this.clientUrl,
      "--advertise-client-urls", this.clientUrl,
      "--listen-peer-urls", this.peerUrl,
      "--initial-advertise-peer-urls", this.peerUrl,
      "--initial-cluster", this.initialCluster,
      "--initial-cluster-token", this.clusterToken,
      "--initial-cluster-state", "new",
      "--listen-metrics-urls", this.metricsUrl,
      "--logger", "zap",
      "--log-outputs", "stderr",
    ];
    if (o.v2) args.push("--enable-v2");
    if (o.tls) {
      args.push("--cert-file", o.tls.certFile, "--key-file", o.tls.keyFile);
      if (o.tls.caFile) args.push("--trusted-ca-file", o.tls.caFile);
      if (o.tls.clientCertAuth) args.push("--client-cert-auth");
    }
    this.proc = spawn(args, { logFile: join(this.dataDir, "etcd.log") });
  }

  /** Waits until this member answers /health with true (through the plain-HTTP metrics listener). */
  async ready(timeout = 20_000): Promise<void> {
    await waitFor(
      async () => {
        if (!this.proc?.running) throw new Error(`etcd exited; log:\n${this.logTail()}`);
        const res = await fetch(`${this.metricsUrl}/health`, { signal: AbortSignal.timeout(1000) });
        return res.ok && ((await res.json()) as { health?: string }).health === "true";
      },
      { timeout, interval: 100, message: `etcd ${this.name} at ${this.clientUrl} did not become healthy` },
    );
  }

  logTail(n = 30): string {
    try {
      return readFileSync(join(this.dataDir, "etcd.log"), "utf8").split("\n").slice(-n).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** Stops the process by its PID and waits for it to exit. */
  async stop(): Promise<void> {
    await this.proc?.stop("SIGTERM", 10_000);
  }

  /** Stops, then starts again on the same data dir and ports, and waits until healthy. */
  async restart(): Promise<void> {
    await this.stop();
    this.launch();
    await this.ready();
  }

  // --- direct access (not through registrator's code) -------------------------------------------

  private fetchOpts(): Record<string, unknown> {
    if (!this.clientTls) return {};
    const read = (f?: string) => (f ? readFileSync(f, "utf8") : undefined);
    return { tls: { ca: read(this.clientTls.caFile), cert: read(this.clientTls.certFile), key: read(this.clientTls.keyFile) } };
  }

  /** POST a v3 gateway call as root (when auth is on); throws on a non-200 answer. */
  async v3<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    const call = async () => {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (this.auth) {
        this.auth.token ??= await this.authenticate();
        headers.authorization = this.auth.token;
      }
      return fetch(`${this.clientUrl}/v3${path}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
        ...this.fetchOpts(),
      } as RequestInit);
    };
    let res = await call();
    if (res.status === 401 && this.auth) {
      this.auth.token = undefined;
      res = await call();
    }
    const text = await res.text();
    if (res.status !== 200) throw new Error(`etcd ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  private async authenticate(): Promise<string> {
    const res = await fetch(`${this.clientUrl}/v3/auth/authenticate`, {
      method: "POST",
      body: JSON.stringify({ name: this.auth?.user, password: this.auth?.password }),
      ...this.fetchOpts(),
    } as RequestInit);
    const j = (await res.json()) as { token?: string };
    if (!j.token) throw new Error(`etcd authenticate: ${res.status} ${JSON.stringify(j)}`);
    return j.token;
  }

  /** The value of a v3 key, or undefined. */
  async get(key: string): Promise<string | undefined> {
    const r = await this.v3<{ kvs?: Array<{ value?: string }> }>("/kv/range", { key: b64(key) });
    const kv = r.kvs?.[0];
    return kv ? unb64(kv.value) : undefined;
  }

  /** Every v3 key under prefix, sorted by key. */
  async range(prefix: string): Promise<KeyValue[]> {
    const r = await this.v3<{ kvs?: Array<{ key?: string; value?: string; lease?: string }> }>("/kv/range", {
      key: b64(prefix),
      range_end: rangeEnd(prefix),
    });
    return (r.kvs ?? []).map((kv) => ({ key: unb64(kv.key), value: unb64(kv.value), ...(kv.lease ? { lease: kv.lease } : {}) }));
  }

  async put(key: string, value: string): Promise<void> {
    await this.v3("/kv/put", { key: b64(key), value: b64(value) });
  }

  async leases(): Promise<string[]> {
    const r = await this.v3<{ leases?: Array<{ ID: string }> }>("/lease/leases", {});
    return (r.leases ?? []).map((l) => l.ID);
  }

  async revokeLease(id: string): Promise<void> {
    await this.v3("/lease/revoke", { ID: id });
  }

  /** Remaining TTL of a lease in seconds (-1 when expired or unknown). */
  async leaseTtl(id: string): Promise<number> {
    const r = await this.v3<{ TTL?: string }>("/lease/timetolive", { ID: id });
    return Number(r.TTL ?? -1);
  }

  /** A v2 key: value and ttl, or undefined when absent. */
  async getV2(key: string): Promise<{ value: string; ttl?: number } | undefined> {
    const res = await fetch(`${this.clientUrl}/v2/keys${key}`, { ...this.fetchOpts() } as RequestInit);
    if (res.status === 404) return undefined;
    const j = (await res.json()) as { node?: { value?: string; ttl?: number } };
    return { value: j.node?.value ?? "", ...(j.node?.ttl !== undefined ? { ttl: j.node.ttl } : {}) };
  }

  async putV2(key: string, value: string): Promise<void> {
    const res = await fetch(`${this.clientUrl}/v2/keys${key}`, {
      method: "PUT",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ value }).toString(),
    });
    if (!res.ok) throw new Error(`etcd v2 put ${key}: ${res.status} ${await res.text()}`);
  }

  /**
   * Watches every key under prefix through the v3 gateway's watch stream; resolves once etcd
   * confirmed the watch, so every later write under the prefix lands in `events` (exact, unlike
   * the server-wide put counter, which counts every test's writes).
   */
  async watch(prefix: string): Promise<EtcdWatch> {
    const abort = new AbortController();
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.auth) headers.authorization = (this.auth.token ??= await this.authenticate());
    const res = await fetch(`${this.clientUrl}/v3/watch`, {
      method: "POST",
      headers,
      body: JSON.stringify({ create_request: { key: b64(prefix), range_end: rangeEnd(prefix) } }),
      signal: abort.signal,
      ...this.fetchOpts(),
    } as RequestInit);
    if (res.status !== 200 || !res.body) throw new Error(`etcd watch ${prefix}: ${res.status} ${await res.text()}`);
    const w: EtcdWatch = { events: [], open: true, stop: async () => abort.abort() };
    let created!: () => void;
    const confirmed = new Promise<void>((r) => (created = r));
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const onMessage = (line: string) => {
      type Event = { type?: "PUT" | "DELETE"; kv?: { key?: string; value?: string } };
      const r = (JSON.parse(line) as { result?: { created?: boolean; events?: Event[] } }).result;
      if (r?.created) created();
      for (const ev of r?.events ?? []) w.events.push({ type: ev.type ?? "PUT", key: unb64(ev.kv?.key), value: unb64(ev.kv?.value) });
    };
    const pump = (async () => {
      let rest = "";
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          const lines = (rest + decoder.decode(value, { stream: true })).split("\n");
          rest = lines.pop()!;
          for (const line of lines) if (line.trim()) onMessage(line);
        }
      } catch {
        // Stopped, or etcd went away: `open` says so.
      } finally {
        w.open = false;
        created();
      }
    })();
    w.stop = async () => {
      abort.abort();
      await pump;
    };
    await confirmed;
    if (!w.open) throw new Error(`etcd watch ${prefix}: the stream ended before etcd confirmed it`);
    return w;
  }

  /** etcd's own count of v3 puts (`etcd_mvcc_put_total` on /metrics). */
  async putCount(): Promise<number> {
    const text = await (await fetch(`${this.metricsUrl}/metrics`)).text();
    const m = /^etcd_mvcc_put_total (\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/m.exec(text);
    if (!m) throw new Error("etcd_mvcc_put_total not found in /metrics");
    return Number(m[1]);
  }

  /** Adds `user` with the root role and turns authentication on; the helpers then log in as it. */
  async enableAuth(user: string, password: string): Promise<void> {
    await this.v3("/auth/user/add", { name: user, password });
    await this.v3("/auth/user/grant", { user, role: "root" });
    if (user !== "root") {
      await this.v3("/auth/user/add", { name: "root", password });
      await this.v3("/auth/user/grant", { user: "root", role: "root" });
    }
    await this.v3("/auth/enable", {});
    this.auth = { user, password };
  }
}

async function memberPorts(): Promise<MemberPorts> {
  return { client: await freePort(), peer: await freePort(), metrics: await freePort() };
}

/** True when an etcd that failed to start says one of its ports was taken meanwhile. */
const portTaken = (e: Etcd) => /address already in use/.test(e.logTail(200));

/**
 * One etcd 3.4 member on free loopback ports in a temp dir; resolves once healthy. A port taken
 * by some process outside the tests' reservations (freePort) is retried on other ports.
 */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<Etcd> {
  const name = opts.name ?? "etcd-test";
  for (let attempt = 1; ; attempt++) {
    const dir = tempDir("etcd-", opts.under);
    const ports = await memberPorts();
    const e = new Etcd(name, dir, ports, `${name}=http://127.0.0.1:${ports.peer}`, opts, `tok-${ports.peer}`);
    e.launch();
    try {
      await e.ready();
      return e;
    } catch (err) {
      await e.stop();
      if (attempt < 3 && portTaken(e)) continue;
      throw err;
    }
  }
}

export interface EtcdCluster {
  members: Etcd[];
  /** "127.0.0.1:p1,127.0.0.1:p2,…" for a registry URI. */
  endpoints: string;
  stopMember(i: number): Promise<void>;
  startMember(i: number): Promise<void>;
  stop(): Promise<void>;
}

/** `size` members on loopback forming one cluster; resolves once every member is healthy. */
export async function startEtcdCluster(size = 3, opts: Omit<StartEtcdOptions, "name" | "tls"> = {}): Promise<EtcdCluster> {
  const specs: Array<{ name: string; dir: string; ports: MemberPorts }> = [];
  for (let i = 0; i < size; i++) specs.push({ name: `m${i}`, dir: tempDir(`etcd-m${i}-`), ports: await memberPorts() });
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.ports.peer}`).join(",");
  const token = `cluster-${specs[0]?.ports.peer}`;
  const members = specs.map((s) => new Etcd(s.name, s.dir, s.ports, initial, { ...opts, name: s.name }, token));
  for (const m of members) m.launch();
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.endpoint).join(","),
    stopMember: async (i) => members[i]?.stop(),
    async startMember(i) {
      const m = members[i];
      if (!m) throw new Error(`no member ${i}`);
      m.launch();
      await m.ready();
    },
    stop: async () => void (await Promise.all(members.map((m) => m.stop()))),
  };
  try {
    await Promise.all(members.map((m) => m.ready(30_000)));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

export interface TestCerts {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: verification against it must fail. */
  otherCaFile: string;
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
export async function makeTestCerts(dir = tempDir("certs-")): Promise<TestCerts> {
  const p = (f: string) => join(dir, f);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = async (name: string) =>
    run(["openssl", "req", "-x509", ...ec, "-keyout", p(`${name}.key`), "-out", p(`${name}.crt`), "-days", "2",
      "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  await ca("ca");
  await ca("other-ca");
  const leaf = async (name: string, ext: string) => {
    writeFileSync(p(`${name}.ext`), ext);
    await run(["openssl", "req", ...ec, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`), "-subj", `/CN=${name}`]);
    await run(["openssl", "x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
      "-CAcreateserial", "-out", p(`${name}.crt`), "-days", "2", "-extfile", p(`${name}.ext`)]);
  };
  await leaf("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  await leaf("client", "extendedKeyUsage=clientAuth\n");
  return {
    dir,
    caFile: p("ca.crt"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    clientCert: p("client.crt"),
    clientKey: p("client.key"),
    otherCaFile: p("other-ca.crt"),
  };
}

// The adapter test helpers moved to fixtures.ts; re-exported for the tests that import them from here.
export { adapterContext, testService } from "./fixtures.ts";

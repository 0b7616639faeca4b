// A small ZooKeeper client over node:net (Bun and Deno; no native addons): one session, several
// hosts with failover, pings at a third of the session timeout, reconnect that resumes the session
// while the server still has it, and a new session (reported through onSession) once it expired.

import * as net from "node:net";
import { Backoff, sleep } from "../../retry.ts";
import type { Logger } from "../../types.ts";
import { FrameReader } from "./frames.ts";
import { JuteReader, type JuteWriter } from "./jute.ts";
import {
  type ConnectResponse,
  CreateMode,
  Err,
  OPEN_ACL,
  Op,
  type Stat,
  Xid,
  ZkError,
  decodeConnect,
  encodeConnect,
  readStat,
  request,
  writeAcl,
} from "./protocol.ts";

export interface ZkHost {
  host: string;
  port: number;
}

export interface ZkClientOptions {
  hosts: ZkHost[];
  /** Requested session timeout; the server clamps it to [2, 20] × tickTime. Default 10 s. */
  sessionTimeoutMs?: number;
  /** How long an operation waits for a connection before failing. Default: the session timeout. */
  operationTimeoutMs?: number;
  log?: Logger;
  /** A new session began (the first one, or one replacing an expired session: ephemerals are gone). */
  onSession?: (info: { sessionId: bigint; previous?: bigint }) => void;
  /** Resume an existing session instead of starting one. */
  session?: { id: bigint; password: Uint8Array };
}

type State = "idle" | "connecting" | "connected" | "closed";

interface Pending {
  op: number;
  path?: string;
  resolve: (r: JuteReader) => void;
  reject: (e: Error) => void;
}

const encoder = new TextEncoder();
const hex = (id: bigint) => `0x${BigInt.asUintN(64, id).toString(16)}`;
const noop: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export class ZkClient {
  private state: State = "idle";
  private socket?: net.Socket;
  private sessionIdValue = 0n;
  private password: Uint8Array = new Uint8Array(16);
  private lastZxid = 0n;
  private negotiatedMs = 0;
  private xid = 0;
  private pending = new Map<number, Pending>();
  private waiters = new Set<() => void>();
  private timers: ReturnType<typeof setInterval>[] = [];
  private lastReceived = 0;
  private hostIndex = 0;
  private wake?: () => void;
  private readonly log: Logger;
  private readonly requestedMs: number;

  constructor(private readonly opts: ZkClientOptions) {
    if (opts.hosts.length === 0) throw new Error("ZkClient needs at least one host");
    this.log = opts.log ?? noop;
    this.requestedMs = opts.sessionTimeoutMs ?? 10_000;
    if (opts.session) {
      this.sessionIdValue = opts.session.id;
      this.password = opts.session.password;
    }
  }

  get sessionId(): bigint {
    return this.sessionIdValue;
  }

  get sessionPassword(): Uint8Array {
    return this.password;
  }

  get connected(): boolean {
    return this.state === "connected";
  }

  get sessionTimeoutMs(): number {
    return this.negotiatedMs || this.requestedMs;
  }

  describe(): string {
    return this.opts.hosts.map((h) => (h.host.includes(":") ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`)).join(",");
  }

  /** Starts connecting in the background (idempotent). */
  start(): void {
    if (this.state !== "idle") return;
    this.state = "connecting";
    void this.run();
  }

  /** Resolves once connected; rejects with ConnectionLoss after `timeoutMs`. */
  async ready(timeoutMs = this.opts.operationTimeoutMs ?? this.requestedMs): Promise<void> {
    this.start();
    if (this.state === "connected") return;
    if (this.state === "closed") throw new ZkError(Err.connectionLoss, undefined, "client closed");
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        if (this.state === "connected") resolve();
        else reject(new ZkError(Err.connectionLoss, undefined, "client closed"));
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new ZkError(Err.connectionLoss, undefined, `no ZooKeeper server reachable at ${this.describe()} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  // --- operations -------------------------------------------------------------------------------

  async create(path: string, data: string | Uint8Array, mode: "persistent" | "ephemeral" = "persistent"): Promise<string> {
    const r = await this.call(Op.create, path, (w) => {
      w.string(path).buffer(typeof data === "string" ? encoder.encode(data) : data);
      writeAcl(w, OPEN_ACL);
      w.int(CreateMode[mode]);
    });
    return r.string() ?? path;
  }

  async delete(path: string, version = -1): Promise<void> {
    await this.call(Op.delete, path, (w) => w.string(path).int(version));
  }

  /** The node's Stat, or null when it does not exist. */
  async exists(path: string): Promise<Stat | null> {
    try {
      return readStat(await this.call(Op.exists, path, (w) => w.string(path).bool(false)));
    } catch (e) {
      if (e instanceof ZkError && e.code === Err.noNode) return null;
      throw e;
    }
  }

  async getData(path: string): Promise<{ data: Uint8Array; stat: Stat }> {
    const r = await this.call(Op.getData, path, (w) => w.string(path).bool(false));
    const data = r.buffer() ?? new Uint8Array();
    return { data, stat: readStat(r) };
  }

  async setData(path: string, data: string | Uint8Array, version = -1): Promise<Stat> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    return readStat(await this.call(Op.setData, path, (w) => w.string(path).buffer(bytes).int(version)));
  }

  async getChildren(path: string): Promise<string[]> {
    const r = await this.call(Op.getChildren, path, (w) => w.string(path).bool(false));
    const n = r.int();
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(r.string() ?? "");
    return out;
  }

  /** Ends the session (the server deletes its ephemeral nodes) and stops. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    if (this.state === "connected") {
      try {
        await Promise.race([
          this.send(Op.closeSession, undefined, undefined),
          new Promise((resolve) => setTimeout(resolve, 2000)),
        ]);
      } catch {
        // the session expires on its own
      }
    }
    this.stop();
  }

  /** Stops without ending the session: its ephemeral nodes live until it times out. */
  detach(): void {
    this.stop();
  }

  private closed(): boolean {
    return this.state === "closed";
  }

  private stop(): void {
    this.state = "closed";
    this.socket?.destroy();
    this.socket = undefined;
    this.clearTimers();
    this.failPending("client closed");
    for (const w of [...this.waiters]) w();
    this.wake?.();
  }

  private async call(op: number, path: string, body: (w: JuteWriter) => void): Promise<JuteReader> {
    await this.ready();
    return this.send(op, path, body);
  }

  private send(op: number, path: string | undefined, body: ((w: JuteWriter) => void) | undefined): Promise<JuteReader> {
    const socket = this.socket;
    if (this.state !== "connected" || !socket) return Promise.reject(new ZkError(Err.connectionLoss, path));
    this.xid = this.xid >= 0x7fffffff ? 1 : this.xid + 1;
    const xid = this.xid;
    return new Promise<JuteReader>((resolve, reject) => {
      this.pending.set(xid, { op, ...(path !== undefined ? { path } : {}), resolve, reject });
      socket.write(request(xid, op, body));
    });
  }

  // --- connection -------------------------------------------------------------------------------

  private async run(): Promise<void> {
    // A server restart is usually over in well under a second; a longer outage is probed every 2 s.
    const backoff = new Backoff({ minMs: 200, maxMs: 2000 });
    while (!this.closed()) {
      const hosts = this.opts.hosts;
      let refusedHandshakes = 0;
      for (let n = 0; n < hosts.length && !this.closed(); n++) {
        const host = hosts[this.hostIndex % hosts.length] as ZkHost;
        this.hostIndex++;
        const outcome = await this.session(host);
        if (outcome === "served" || outcome === "expired") {
          backoff.reset();
          n = -1; // start a fresh round from the next host
          continue;
        }
        if (outcome === "refused-handshake") refusedHandshakes++;
      }
      if (this.closed()) break;
      // Every server accepted TCP but closed before answering our handshake: they have not seen
      // the zxid we last saw (data was lost). Forget it, or we could never connect again.
      if (refusedHandshakes === hosts.length && this.lastZxid !== 0n) {
        this.log.warn(`zookeeper: servers at ${this.describe()} refuse our last seen zxid ${hex(this.lastZxid)}; resetting it`);
        this.lastZxid = 0n;
        continue;
      }
      const wake = new AbortController();
      this.wake = () => wake.abort();
      await sleep(backoff.next(), wake.signal);
      this.wake = undefined;
    }
  }

  /**
   * One connection: handshake, then serve requests until it breaks. "served" when a session was
   * established on it; "refused-handshake" when the server closed before answering; else "failed".
   */
  private session(host: ZkHost): Promise<"served" | "expired" | "refused-handshake" | "failed"> {
    return new Promise((resolve) => {
      let handshaken = false;
      let expired = false;
      let tcpUp = false;
      const frames = new FrameReader();
      const connectTimeout = Math.max(1000, Math.floor(this.sessionTimeoutMs / this.opts.hosts.length));
      const socket = net.connect({ host: host.host, port: host.port });
      this.socket = socket;
      socket.setNoDelay(true);
      const connectTimer = setTimeout(() => socket.destroy(new Error("connect timeout")), connectTimeout);

      socket.on("connect", () => {
        tcpUp = true;
        socket.write(
          encodeConnect({
            lastZxidSeen: this.lastZxid,
            timeoutMs: this.requestedMs,
            sessionId: this.sessionIdValue,
            password: this.password,
          }),
        );
      });
      socket.on("data", (chunk: Uint8Array) => {
        this.lastReceived = Date.now();
        let packets: Uint8Array[];
        try {
          packets = frames.push(chunk);
        } catch (e) {
          socket.destroy(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        for (const packet of packets) {
          try {
            if (!handshaken) {
              clearTimeout(connectTimer);
              handshaken = this.onConnected(decodeConnect(new JuteReader(packet)), socket, host);
              if (!handshaken) {
                expired = true;
                return;
              }
            } else {
              this.onReply(new JuteReader(packet));
            }
          } catch (e) {
            socket.destroy(e instanceof Error ? e : new Error(String(e)));
            return;
          }
        }
      });
      socket.on("error", (e) => this.log.debug(`zookeeper: ${host.host}:${host.port}: ${e.message}`));
      socket.on("close", () => {
        clearTimeout(connectTimer);
        if (this.socket === socket) this.socket = undefined;
        if (this.state === "connected") {
          this.state = "connecting";
          this.log.warn(`zookeeper: connection to ${host.host}:${host.port} lost; reconnecting`);
        }
        this.clearTimers();
        this.failPending();
        resolve(handshaken ? "served" : expired ? "expired" : tcpUp ? "refused-handshake" : "failed");
      });
    });
  }

  /** Handles the ConnectResponse; false when the session expired (the connection is dropped). */
  private onConnected(r: ConnectResponse, socket: net.Socket, host: ZkHost): boolean {
    if (this.state === "closed") {
      socket.destroy();
      return false;
    }
    if (r.timeoutMs <= 0) {
      this.log.warn(`zookeeper: session ${hex(this.sessionIdValue)} expired; starting a new session`);
      this.sessionIdValue = 0n;
      this.password = new Uint8Array(16);
      this.hostIndex--; // the same server again, at once
      socket.destroy();
      return false;
    }
    const previous = this.sessionIdValue;
    this.sessionIdValue = r.sessionId;
    this.password = r.password;
    this.negotiatedMs = r.timeoutMs;
    this.state = "connected";
    this.lastReceived = Date.now();
    const isNew = previous !== r.sessionId;
    this.log.info(
      `zookeeper: ${isNew ? "session" : "resumed session"} ${hex(r.sessionId)} on ${host.host}:${host.port} (timeout ${r.timeoutMs} ms)`,
    );
    // Ping at a third of the timeout; give up on a server silent for two thirds of it.
    this.timers.push(
      setInterval(() => {
        if (Date.now() - this.lastReceived > (this.negotiatedMs * 2) / 3) {
          socket.destroy(new Error("server silent for too long"));
          return;
        }
        socket.write(request(Xid.ping, Op.ping));
      }, Math.max(100, Math.floor(this.negotiatedMs / 3))),
    );
    for (const w of [...this.waiters]) w();
    if (isNew) {
      try {
        this.opts.onSession?.({ sessionId: r.sessionId, ...(previous !== 0n ? { previous } : {}) });
      } catch (e) {
        this.log.error(`zookeeper: session handler failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return true;
  }

  private onReply(r: JuteReader): void {
    const xid = r.int();
    const zxid = r.long();
    const err = r.int();
    if (zxid > this.lastZxid) this.lastZxid = zxid;
    if (xid === Xid.ping || xid === Xid.notification || xid === Xid.auth) return;
    const p = this.pending.get(xid);
    if (!p) return;
    this.pending.delete(xid);
    if (err !== 0) {
      p.reject(new ZkError(err, p.path));
      if (err === Err.sessionExpired) this.socket?.destroy();
    } else p.resolve(r);
  }

  private failPending(detail?: string): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(new ZkError(Err.connectionLoss, p.path, detail));
  }

  private clearTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}

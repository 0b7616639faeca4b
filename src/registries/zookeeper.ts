// ZooKeeper adapter (registrator's layout): ephemeral `<base>/<name>/<ip>:<port>` with JSON body
// `{Name,IP,PublicPort,PrivatePort,ContainerID,Tags,Attrs}`; persistent parents created as needed,
// `<base>/<name>` removed when it empties. Nodes live with our session, so the adapter remembers
// what it registered and writes it all again when a new session replaces an expired one.

import { isIP } from "node:net";
import { RegistryError, errorMessage } from "../errors.ts";
import { joinHostPort } from "../hostport.ts";
import type { AdapterContext, Logger, RegistryAdapter, RegistryUri, Service, ServiceRef } from "../types.ts";
import { keyPathUri, safeSegment, uriError } from "./uri.ts";
import { ZkClient } from "./zk/client.ts";
import { Err, ZkError } from "./zk/protocol.ts";

export const ZOOKEEPER_URI_FORM = "zookeeper://host:port[,host:port…]/base (default 127.0.0.1:2181)";

export interface ZookeeperOptions {
  /** Requested session timeout (default 10 s; the server clamps it to 2–20 ticks). */
  sessionTimeoutMs?: number;
  /** How long an operation waits for a connection (default: the session timeout). */
  operationTimeoutMs?: number;
}

const decoder = new TextDecoder();
const isZk = (e: unknown, code: number) => e instanceof ZkError && e.code === code;

/**
 * Why ZooKeeper would refuse `segment` as a znode name (PathUtils.validatePath), or undefined. It
 * checks UTF-16 code units: NUL, U+0001–U+001F, U+007F–U+009F, U+D800–U+F8FF (so every surrogate,
 * hence every emoji and character beyond the BMP, and the private-use area) and U+FFF0–U+FFFF.
 */
export function zkNameProblem(segment: string): string | undefined {
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0) {
      const cp = segment.codePointAt(i) ?? c;
      return `ZooKeeper refuses the character U+${cp.toString(16).toUpperCase().padStart(4, "0")} in node names (control, emoji and other characters beyond U+FFFF, private use, U+FFF0–U+FFFF)`;
    }
  }
  return undefined;
}

/** A service whose path ZooKeeper would refuse: not written, not retried (it would fail forever). */
export class RefusedName extends RegistryError {
  override name = "RefusedName";
}

/** The body registrator writes (Go's encoding/json field order; Attrs keys sorted like Go maps). */
export function znodeBody(s: Service): string {
  const attrs: Record<string, string> = Object.create(null);
  for (const k of Object.keys(s.attrs).sort()) attrs[k] = s.attrs[k] as string;
  return JSON.stringify({
    Name: s.name,
    IP: s.ip,
    PublicPort: s.port,
    PrivatePort: s.origin.exposedPort,
    ContainerID: s.origin.containerId,
    Tags: s.tags,
    Attrs: attrs,
  });
}

export class ZookeeperAdapter implements RegistryAdapter {
  readonly backend = "zookeeper";
  readonly client: ZkClient;
  /** Node path → body of every service registered through this adapter. */
  private readonly held = new Map<string, string>();
  private restoring?: Promise<void>;
  private restoreAgain = false;

  constructor(
    private readonly base: string,
    hosts: Array<{ host: string; port: number }>,
    private readonly log: Logger,
    opts: ZookeeperOptions = {},
  ) {
    this.client = new ZkClient({
      hosts,
      sessionTimeoutMs: opts.sessionTimeoutMs ?? 10_000,
      ...(opts.operationTimeoutMs ? { operationTimeoutMs: opts.operationTimeoutMs } : {}),
      log,
      onSession: ({ previous }) => {
        if (previous !== undefined || this.held.size) void this.restore();
      },
    });
  }

  /** `<base>/<name>/<ip>:<port>`; RefusedName when ZooKeeper would refuse it. */
  servicePath(ref: ServiceRef): string {
    let name: string;
    let addr: string;
    try {
      name = safeSegment(ref.name, "service name", "zookeeper");
      addr = safeSegment(joinHostPort(safeSegment(ref.ip, "service IP", "zookeeper"), ref.port), "service address", "zookeeper");
    } catch (e) {
      throw new RefusedName(errorMessage(e));
    }
    // The node name is `<ip>:<port>`: only an IP address may go there (Docker's HostIp always is one;
    // anything else came from a hostile or broken engine).
    if (isIP(ref.ip.replace(/^\[(.*)\]$/, "$1")) === 0) {
      throw new RefusedName(`Refusing service IP ${JSON.stringify(ref.ip)} in zookeeper: it is not an IPv4 or IPv6 address`);
    }
    const problem = zkNameProblem(name) ?? zkNameProblem(addr);
    if (problem) throw new RefusedName(`Refusing service name ${JSON.stringify(name)} in zookeeper: ${problem}`);
    return `${this.base}/${name}/${addr}`;
  }

  /** Names already warned about, so a resync does not repeat the warning. */
  private readonly refused = new Set<string>();

  private warnRefused(service: Service, e: RefusedName): void {
    if (this.refused.has(service.id)) return;
    this.refused.add(service.id);
    this.log.warn(`Not registering "${service.id}" of container "${service.origin.containerName}": ${e.message}; set SERVICE_NAME to a name without them`, {
      service: service.id,
      container: service.origin.containerName,
    });
  }

  private fail(action: string, e: unknown): RegistryError {
    return new RegistryError(`${action} in zookeeper (${this.client.describe()}): ${errorMessage(e)}`, undefined, { cause: e });
  }

  async ping(): Promise<void> {
    try {
      await this.client.exists(this.base || "/");
    } catch (e) {
      throw this.fail("Cannot reach ZooKeeper", e);
    }
  }

  async register(service: Service): Promise<void> {
    let path: string;
    try {
      path = this.servicePath(service);
    } catch (e) {
      // Refused before writing: retrying would fail the same way forever, and one container's odd
      // name says nothing about ZooKeeper being reachable.
      if (e instanceof RefusedName) return this.warnRefused(service, e);
      throw e;
    }
    const body = znodeBody(service);
    this.held.set(path, body);
    try {
      await this.retry(() => this.ensureNode(path, body));
    } catch (e) {
      throw this.fail(`Cannot register "${service.id}"`, e);
    }
  }

  async deregister(ref: ServiceRef): Promise<void> {
    let path: string;
    try {
      path = this.servicePath(ref);
    } catch (e) {
      if (e instanceof RefusedName) return; // never written
      throw e;
    }
    this.held.delete(path);
    try {
      await this.retry(async () => {
        try {
          await this.client.delete(path);
        } catch (e) {
          if (!isZk(e, Err.noNode)) throw e;
        }
      });
      // Remove the service's directory once its last instance is gone.
      const parent = path.slice(0, path.lastIndexOf("/"));
      try {
        await this.client.delete(parent);
      } catch (e) {
        if (!isZk(e, Err.notEmpty) && !isZk(e, Err.noNode)) throw e;
      }
    } catch (e) {
      throw this.fail(`Cannot deregister "${ref.id}"`, e);
    }
  }

  /** Nodes live with the session; this re-creates any of `services` that went missing. */
  async refresh(services: Service[]): Promise<void> {
    const wanted: Array<[string, string]> = [];
    for (const s of services) {
      try {
        wanted.push([this.servicePath(s), znodeBody(s)]);
      } catch (e) {
        if (e instanceof RefusedName) this.warnRefused(s, e);
        else this.log.warn(errorMessage(e), { service: s.id });
      }
    }
    for (const [path, body] of wanted) this.held.set(path, body);
    try {
      for (const [path, body] of wanted) {
        const stat = await this.client.exists(path);
        if (!stat || stat.ephemeralOwner !== this.client.sessionId) await this.ensureNode(path, body);
      }
    } catch (e) {
      throw this.fail(`Cannot refresh ${wanted.length} services`, e);
    }
  }

  async close(opts?: { deregisterAll?: boolean }): Promise<void> {
    this.held.clear();
    // Ending the session deletes our ephemeral nodes; otherwise they live until it times out.
    if (opts?.deregisterAll) await this.client.close();
    else this.client.detach();
  }

  /** One retry after a lost connection (the client reconnects, or resumes the session, meanwhile). */
  private async retry(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (!isZk(e, Err.connectionLoss) && !isZk(e, Err.sessionExpired)) throw e;
      await fn();
    }
  }

  /** Our ephemeral node at `path` with `body`, whatever was there before. */
  private async ensureNode(path: string, body: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.client.create(path, body, "ephemeral");
        return;
      } catch (e) {
        if (isZk(e, Err.noNode)) {
          await this.mkdirs(path.slice(0, path.lastIndexOf("/")));
          continue;
        }
        if (!isZk(e, Err.nodeExists)) throw e;
      }
      // It exists: keep it if it is ours, update its body if needed, else take it over.
      let existing: { data: Uint8Array; stat: { ephemeralOwner: bigint; version: number } };
      try {
        existing = await this.client.getData(path);
      } catch (e) {
        if (isZk(e, Err.noNode)) continue;
        throw e;
      }
      if (existing.stat.ephemeralOwner === this.client.sessionId) {
        if (decoder.decode(existing.data) !== body) await this.client.setData(path, body);
        return;
      }
      try {
        await this.client.delete(path, existing.stat.version);
      } catch (e) {
        if (!isZk(e, Err.noNode) && !isZk(e, Err.badVersion)) throw e;
      }
    }
    throw new ZkError(Err.nodeExists, path, "another client keeps re-creating it");
  }

  /** Persistent nodes for every segment of `dir` (existing ones are fine). */
  private async mkdirs(dir: string): Promise<void> {
    let path = "";
    for (const segment of dir.split("/").filter(Boolean)) {
      path += `/${segment}`;
      try {
        await this.client.create(path, "", "persistent");
      } catch (e) {
        if (!isZk(e, Err.nodeExists)) throw e;
      }
    }
  }

  /** After a new session: write every held node again (they died with the old session). */
  private restore(): Promise<void> {
    this.restoreAgain = true;
    this.restoring ??= (async () => {
      try {
        while (this.restoreAgain) {
          this.restoreAgain = false;
          const nodes = [...this.held];
          if (nodes.length) this.log.warn(`zookeeper: new session; re-creating ${nodes.length} nodes`);
          let connectionLost = false;
          for (const [path, body] of nodes) {
            if (this.held.get(path) !== body) continue;
            try {
              await this.ensureNode(path, body);
            } catch (e) {
              if (isZk(e, Err.connectionLoss) || isZk(e, Err.sessionExpired)) connectionLost = true;
              else this.log.error(`zookeeper: cannot re-create "${path}": ${errorMessage(e)}`);
            }
          }
          // Interrupted by a lost connection: once connected again (a resumed session does not
          // call us back), go over the list again. A closed client ends this.
          if (connectionLost && (await this.client.ready(this.client.sessionTimeoutMs * 3).then(() => true, () => false))) {
            this.restoreAgain = true;
          }
        }
      } finally {
        this.restoring = undefined;
      }
    })();
    return this.restoring;
  }
}

/** `zookeeper://h:p[,h2:p2…]/base`. */
export function zookeeperFactory(uri: RegistryUri, ctx: AdapterContext, opts: ZookeeperOptions = {}): RegistryAdapter {
  const u = keyPathUri(uri, {
    schemes: ["zookeeper"],
    defaultHost: "127.0.0.1",
    defaultPort: 2181,
    form: ZOOKEEPER_URI_FORM,
    params: [],
  });
  if (u.path.split("/")[1] === "zookeeper") {
    // /zookeeper is the server's own subtree and refuses writes.
    throw uriError(uri, `"/zookeeper" is reserved by ZooKeeper; expected ${ZOOKEEPER_URI_FORM}`);
  }
  return new ZookeeperAdapter(u.path, u.hosts, ctx.log, opts);
}

// A strict in-process emulator of a Consul agent (`consul agent -dev`) for tests, following
// /work/shared/docs/protocols.md section 2 to the status code and error text.
//
//   const consul = await startConsulEmulator({ token: "secret" });
//   await fetch(`${consul.url}/v1/agent/services`, { headers: { "X-Consul-Token": "secret" } });
//   expect(consul.services()).toEqual({});
//   await consul.stop();

import { randomUUID } from "node:crypto";
import { existsSync, unlinkSync } from "node:fs";
import { freePort } from "../proc.ts";
import { Acl } from "./acl.ts";
import { type RecordedRequest, buildApp } from "./app.ts";
import { type ExternalNode, ExternalCatalog, externalCatalogRoutes } from "./external.ts";
import { type FaultOptions, Faults } from "./faults.ts";
import { type EmulatorOptions, EmulatorOptionsSchema } from "./options.ts";
import { type NodeInfo, agentService, healthCheck } from "./render.ts";
import { type CheckStatus, ConsulState } from "./state.ts";

export type { RecordedRequest } from "./app.ts";
export type { FaultOptions } from "./faults.ts";
export type { EmulatorOptions } from "./options.ts";
export { makeCerts, type CertBundle } from "./certs.ts";

export interface ConsulEmulator {
  /** http(s)://127.0.0.1:<port>, or the socket path for a unix listener. */
  readonly url: string;
  /** The TCP port (0 on a unix socket). */
  readonly port: number;
  /** As CONSUL_HTTP_ADDR would name it: "127.0.0.1:<port>", "https://127.0.0.1:<port>" or "unix:///path". */
  readonly address: string;
  /** Every request received, oldest first (status 0 while in flight). */
  readonly requests: RecordedRequest[];
  /** Closes the listener (dropping open connections) and stops all timers. */
  stop(): Promise<void>;
  /**
   * Restarts like a -dev agent: open connections are dropped, services, checks and KV are
   * forgotten and indexes start low again. The listener comes back on the same port or socket,
   * after `downMs` when given.
   */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** Injects a fault for matching requests; null clears it. */
  fail(opts: FaultOptions | null): void;
  /** Registered services as GET /v1/agent/services shows them. */
  services(): Record<string, Record<string, unknown>>;
  /** Registered checks as GET /v1/agent/checks shows them. */
  checks(): Record<string, Record<string, unknown>>;
  /** KV contents as UTF-8 text (null for an empty value). */
  kv(): Record<string, string | null>;
  /** Sets a check's status as if its probe (HTTP, TCP, script…) had run; the emulator never probes. */
  setCheckStatus(checkId: string, status: CheckStatus, output?: string): void;
  /**
   * An operator changes a service's tags in the catalog (`PUT /v1/catalog/register`). As the agent's
   * anti-entropy does (agent/local/state.go), a service with EnableTagOverride adopts them in its local
   * state (GET /v1/agent/services shows them); one without keeps its own (the agent writes them back).
   * Returns whether the agent's view changed.
   */
  overrideTags(serviceId: string, tags: string[]): boolean;
  /** A node registered through PUT /v1/catalog/register (no agent), with its services and checks by ID. */
  catalogNode(name: string): ExternalNode | undefined;
  /** Current Raft index (what X-Consul-Index reports for the busiest table). */
  index(): number;
  clearLog(): void;
  /** fetch against the emulator: `path` like "/v1/agent/services"; handles the unix socket and the CA. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

type Server = ReturnType<typeof Bun.serve>;

export async function startConsulEmulator(options: EmulatorOptions = {}): Promise<ConsulEmulator> {
  const opts = EmulatorOptionsSchema.parse(options);
  const node: NodeInfo = { id: randomUUID(), name: opts.nodeName, datacenter: opts.datacenter, version: opts.version };
  const state = new ConsulState({ nodeName: opts.nodeName, reapMinimumMs: opts.reapMinimumMs, reapIntervalMs: opts.reapIntervalMs });
  const faults = new Faults();
  const log: RecordedRequest[] = [];
  const app = buildApp({ opts, state, node, faults, log });
  const external = new ExternalCatalog(state, opts.datacenter);
  externalCatalogRoutes(app, { catalog: external, acl: new Acl(opts.token), state });

  const listen = (port: number): Server => {
    const fetch = (req: Request) => app.fetch(req);
    if (opts.unixSocket) {
      if (existsSync(opts.unixSocket)) unlinkSync(opts.unixSocket);
      // idleTimeout is not in the unix-socket typings but Bun applies it there too; 0 keeps long polls open.
      return Bun.serve({ unix: opts.unixSocket, fetch, ...({ idleTimeout: 0 } as object) });
    }
    const tls = opts.tls && {
      cert: opts.tls.cert,
      key: opts.tls.key,
      ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
      ...(opts.tls.requestCert ? { requestCert: true, rejectUnauthorized: true } : {}),
    };
    return Bun.serve({ hostname: "127.0.0.1", port, fetch, idleTimeout: 0, ...(tls ? { tls } : {}) });
  };

  // A reserved port (freePort), not one the kernel picks from its ephemeral range: restart()
  // listens on it again, and in between any outgoing connection could take an ephemeral one.
  let server: Server | undefined = listen(opts.port || opts.unixSocket ? opts.port : await freePort());
  state.start();
  const port = opts.unixSocket ? 0 : (server.port ?? 0);
  const scheme = opts.tls ? "https" : "http";
  const url = opts.unixSocket ?? `${scheme}://127.0.0.1:${port}`;
  const address = opts.unixSocket ? `unix://${opts.unixSocket}` : opts.tls ? url : `127.0.0.1:${port}`;

  const close = async () => {
    const s = server;
    server = undefined;
    await s?.stop(true);
    if (opts.unixSocket && existsSync(opts.unixSocket)) unlinkSync(opts.unixSocket);
  };

  return {
    url,
    port,
    address,
    requests: log,
    async stop() {
      state.stop();
      await close();
    },
    async restart(o = {}) {
      await close();
      state.reset();
      external.reset();
      if (o.downMs) await new Promise((r) => setTimeout(r, o.downMs));
      server = listen(port);
    },
    fail: (f) => faults.set(f),
    services: () => Object.fromEntries([...state.services.values()].map((s) => [s.ID, agentService(s, node.datacenter)])),
    checks: () => Object.fromEntries([...state.checks.values()].map((c) => [c.CheckID, healthCheck(c, true)])),
    kv: () =>
      Object.fromEntries(
        [...state.kv.values()].map((e) => [e.Key, e.Value === null ? null : new TextDecoder().decode(e.Value)]),
      ),
    setCheckStatus(checkId, status, output) {
      const c = state.checks.get(checkId);
      if (!c) throw new Error(`Unknown check ID "${checkId}"`);
      state.updateCheck(c, status, output ?? c.Output);
    },
    overrideTags(serviceId, tags) {
      const svc = state.services.get(serviceId);
      if (!svc) throw new Error(`Unknown service ID "${serviceId}"`);
      if (!svc.EnableTagOverride) return false;
      svc.Tags = [...tags];
      svc.ModifyIndex = state.nextIndex();
      state.touchService(svc.Service, svc.ModifyIndex, false);
      state.notify();
      return true;
    },
    catalogNode: (name) => external.nodes.get(name),
    index: () => state.index,
    clearLog: () => void log.splice(0, log.length),
    fetch(path, init = {}) {
      if (opts.unixSocket) return fetch(`http://localhost${path}`, { ...init, unix: opts.unixSocket } as RequestInit);
      const tls = opts.tls ? { tls: { ca: opts.tls.ca ?? opts.tls.cert, ...((init as { tls?: object }).tls ?? {}) } } : {};
      return fetch(`${url}${path}`, { ...init, ...tls } as RequestInit);
    },
  };
}

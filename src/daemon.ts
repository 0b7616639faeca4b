import { hostname as osHostname } from "node:os";
import { Bridge } from "./bridge/bridge.ts";
import type { BridgeChange, NamedRegistry } from "./bridge/types.ts";
import { watchDocker } from "./bridge/watch.ts";
import type { Config } from "./config.ts";
import { listenAddress } from "./config.ts";
import { DockerClient, resolveDockerEndpoint, endpointFor } from "./docker/client.ts";
import type { ContainerInspect } from "./docker/schema.ts";
import { ConfigError, errorMessage } from "./errors.ts";
import { RESOLVE_EVERY_S, dynamicHostAddress } from "./host-address.ts";
import { resolveHostIp } from "./hostip.ts";
import { chooseHostname, hostnameIo } from "./hostname.ts";
import type { HttpEnv } from "./http/app.ts";
import type { Readiness } from "./http/status.ts";
import { hostGuard, isLongPoll } from "./http/host-guard.ts";
import { EventStreams } from "./http/events.ts";
import { Metrics } from "./http/metrics.ts";
import { createLogger } from "./log.ts";
import { createAdapter } from "./registries/index.ts";
import type { LocalRegistry } from "./registries/local.ts";
import { registryNames } from "./registries/names.ts";
import { retry } from "./retry.ts";
import type { Runtime, Server } from "./runtime/types.ts";
import { deriveServices } from "./services/derive.ts";
import type { AdapterContext, Logger } from "./types.ts";

/**
 * Everything registrator needs before it connects anywhere; bad input throws ConfigError here.
 * `meanwhile` (the daemon's registry pings) runs while this host's address is being looked up:
 * a slow resolver does not delay the first registration by more than it must.
 */
export async function prepare(config: Config, rt: Runtime, log: Logger, meanwhile?: (registries: NamedRegistry[], hostname: string) => Promise<void>) {
  // Started first, awaited last (resolveHostIp never rejects).
  const lookup = config.ip ? undefined : resolveHostIp(osHostname(), () => rt.networkInterfaces());
  // The template engine loads only for -tags (bench/startup.ts: less to load before the first registration).
  const tags = config.tags ? (await import("./services/template.ts")).compileTags(config.tags) : undefined;
  const dockerHost = rt.env("DOCKER_HOST");
  const endpoint = dockerHost ? await endpointFor(dockerHost, rt).catch((e) => {
    throw new ConfigError(errorMessage(e));
  }) : await resolveDockerEndpoint(rt).catch(() => endpointFor("unix:///var/run/docker.sock", rt));
  const docker = new DockerClient(endpoint);
  // Docker answers while the registries are set up and pinged, not after.
  docker.startPing();
  // Before the registry adapters: they name this host (the embedded registry's node, Consul's catalog).
  const hostname = await chooseHostname(config.hostname, hostnameIo(osHostname(), rt, docker), log);
  // -ip eth0 / -ip 10.0.0.0/8: looked up now and again later (runDaemon); a fixed -ip: undefined.
  const address = dynamicHostAddress(config.ip, () => rt.networkInterfaces(), log);
  let defaultHostIp = config.ip || undefined;
  const ctx: AdapterContext = {
    fetch: globalThis.fetch,
    runtime: rt,
    log,
    env: (n) => rt.env(n),
    hostname,
    ttl: config.ttl,
    ttlRefresh: config["ttl-refresh"],
    allowScriptChecks: config["allow-script-checks"],
    nodeAddress: () => (address ? address.current : defaultHostIp),
  };
  const adapters = [];
  for (const uri of config.uris) adapters.push(await createAdapter(uri, ctx));
  const names = registryNames(config.uris, adapters.map((a) => a.backend));
  const registries: NamedRegistry[] = adapters.map((adapter, i) => ({ name: names[i]!, adapter }));
  // Not awaited here: the caller reads Docker while the registries answer (bench/startup.ts).
  const pinged = meanwhile?.(registries, hostname) ?? Promise.resolve();
  pinged.catch(() => {}); // the caller awaits it and sees the failure
  if (lookup) {
    const { ip, why } = await lookup;
    defaultHostIp = ip;
    log.info(`Using ${ip} for ports published on all interfaces (${why}); set -ip to choose the address`);
  }
  const derive = (c: ContainerInspect, peer?: ContainerInspect, imageTag?: string | null) =>
    deriveServices(c, {
      hostname,
      // Until -ip eth0 has an address, ports that need it are skipped (and registered once it has one).
      hostIp: address ? address.current : config.ip || undefined,
      defaultHostIp: address ? address.current : defaultHostIp,
      // Provenance of such an address: "-ip eth0 → 10.1.2.3".
      hostIpSource: address?.flag,
      internal: config.internal,
      explicit: config.explicit,
      useIpFromLabel: config.useIpFromLabel || undefined,
      tags,
      allowScriptChecks: config["allow-script-checks"],
      peer,
      health: config.health,
      network: config.network || undefined,
      defaultName: config["default-name"],
      imageTag,
      filters: config.filter,
    });
  // A getter: with -ip eth0 the address can change after startup, and the embedded registry's node follows it.
  const hostIp = () => (address ? address.current : defaultHostIp) ?? "127.0.0.1";
  return { hostname, registries, docker, derive, address, hostIp, pinged };
}

async function pingWithRetry({ name, adapter: registry }: NamedRegistry, config: Config, log: Logger): Promise<void> {
  // A fixed interval, as registrator's -retry-interval promises; a bad URI or setting never heals.
  return retry(() => registry.ping(), {
    retries: config["retry-attempts"],
    delay: config["retry-interval"],
    fatal: (e) => e instanceof ConfigError,
    onRetry: (e, _attempt, ms) => log.warn(`Registry ${name} not reachable: ${errorMessage(e)}; retrying in ${ms} ms`),
  });
}

/** Runs until SIGTERM/SIGINT; resolves with the exit code. ConfigError propagates (exit 2). */
export async function runDaemon(config: Config, rt: Runtime, version: string): Promise<number> {
  const log = createLogger({ level: config["log-level"], format: config["log-format"] });
  const { hostname, registries, docker, derive, hostIp, address, pinged } = await prepare(config, rt, log, (registries, name) => {
    log.info(`Starting registrator ${version} on ${rt.name}`, { registry: registries.map((r) => r.name).join(" "), hostname: name });
    return Promise.all(registries.map((r) => pingWithRetry(r, config, log))).then(() => {});
  });

  const metrics = new Metrics();
  const reachable = new Map(registries.map((r) => [r.name, { ok: true, reason: "" }]));
  const readiness = { docker: { ok: false, reason: "not connected yet" } };
  const readinessNow = (): Readiness => {
    const each = registries.map((r) => ({ name: r.name, ...reachable.get(r.name)! }));
    const down = each.filter((r) => !r.ok);
    const reason = down.length === 1 && each.length === 1 ? down[0]!.reason : down.map((r) => `${r.name}: ${r.reason}`).join("; ");
    const noAddress = address && address.current === undefined ? { address: { ok: false, reason: `${address.flag} has no address yet` } } : {};
    return { docker: readiness.docker, registry: { ok: down.length === 0, reason }, registries: each, ...noAddress };
  };
  const backendOf = new Map(registries.map((r) => [r.name, r.adapter.backend]));
  // Run-once startup code is behind us once the first write is answered (or the first sync is
  // written, when there is nothing to write): a full collection of what starting up left, and the
  // executable's pages only starting up touched returned (Runtime.settled). Not earlier: that
  // work was on the path to the first registration (bench/startup.ts).
  let settled = false;
  let markSettled = () => {};
  const settledOnce = new Promise<void>((r) => (markSettled = r));
  const settle = () => {
    if (settled) return;
    settled = true;
    markSettled();
    rt.settled?.();
  };
  // Work (a Docker event, a registry request) marks the daemon busy; a second check after
  // QUIET_AFTER_S without any lets the runtime give back what the work paged in (Runtime.quiet).
  let busy = false;
  let lastWork = 0;
  const worked = () => {
    busy = true;
    lastWork = performance.now();
  };
  const observe = (op: string, ok: boolean, seconds: number, registry: string) => {
    worked();
    if (op === "register") queueMicrotask(settle);
    metrics.registryLatency.observe({ backend: backendOf.get(registry) ?? registry, operation: op, registry }, seconds);
    if (op === "register") metrics.registrations.inc({ outcome: ok ? "success" : "failure", registry });
    if (op === "deregister") metrics.deregistrations.inc({ outcome: ok ? "success" : "failure", registry });
    // Readiness is about reaching the registry: a success proves it, but one refused write (a name
    // the backend rejects, a 400 for one service) says nothing about it; the periodic ping decides.
    if (ok && op !== "deregister") reachable.set(registry, { ok: true, reason: "" });
  };
  const listeners = new Set<(c: BridgeChange) => void>();
  const bridge = new Bridge({
    docker,
    registries,
    derive,
    hostname,
    deregister: config.deregister,
    deregisterOnStop: config["deregister-on-stop"],
    cleanup: config.cleanup,
    log,
    observe,
    onChange: (c) => listeners.forEach((l) => l(c)),
    collect: rt.collect,
    // When a registry stays unreachable, `pinged` rejects and the daemon exits (below): its
    // writes never start.
    ready: pinged.catch(() => new Promise<void>(() => {})),
  });
  // The embedded registry, when one of the registries: its catalog is served over HTTP.
  const localAt = registries.findIndex((r) => r.adapter.backend === "local");
  const local = localAt < 0 ? undefined : { adapter: registries[localAt]!.adapter as LocalRegistry, writer: bridge.writers[localAt]! };
  metrics.gauge("registrator_services_registered", "Services this host has registered, per registry", () => bridge.writers.map((w) => [{ registry: w.name }, w.registered().length]));
  metrics.gauge("registrator_queue_depth", "Containers waiting to be reconciled", () => bridge.pendingWrites());

  // The embedded registry answers catalog reads only after the first sync with Docker.
  let markSynced = () => {};
  const synced = new Promise<void>((r) => (markSynced = r));
  // The first sync leaves garbage in proportion to the containers (their inspects): returned now,
  // at 10,000 containers about 18 MiB of resident memory (bench/scale.ts).
  void synced.then(() => {
    if (settled) rt.settled?.();
    else settle();
  });
  const httpAddr = config.http === "" ? undefined : listenAddress(config.http)!;
  const allowedHosts = config["http-allowed-hosts"].split(",").map((h) => h.trim()).filter(Boolean);
  const events = new EventStreams({ onDropped: () => metrics.eventClientsRejected.inc({ reason: "slow" }), onRefused: () => metrics.eventClientsRejected.inc({ reason: "over-limit" }) });
  metrics.gauge("registrator_event_stream_clients", "Clients connected to /v1/events", () => events.size);
  const abort = new AbortController();
  const timers: Array<ReturnType<typeof setInterval>> = [];
  const every = (seconds: number, fn: () => Promise<void>) => {
    // The tasks log their own failures; anything that still escapes is a bug worth a line.
    if (seconds > 0) timers.push(setInterval(() => void fn().catch((e) => log.error(`Periodic task failed: ${errorMessage(e)}`)), seconds * 1000));
  };
  let reconnects = 0;
  // The first sync with Docker done, or Docker not reachable: what the HTTP API's line waits for.
  let dockerSettled = () => {};
  const dockerFirst = new Promise<void>((r) => (dockerSettled = r));
  const watching = watchDocker(docker, bridge, log, abort.signal, {
    onConnected: () => {
      if (reconnects++ > 0) metrics.dockerReconnects.inc();
      readiness.docker = { ok: true, reason: "" };
    },
    onDisconnected: (reason) => {
      readiness.docker = { ok: false, reason };
      dockerSettled();
    },
    onEvent: (action) => {
      worked();
      metrics.events.inc({ action });
    },
    // Events replayed from before the list are read once the first registration is written.
    eventsAfter: settledOnce,
    onSynced: () => {
      dockerSettled();
      // Writes of the first sync are queued; the embedded catalog is complete once its own are
      // applied (another registry's, slow or down, does not hold it up).
      void (local?.writer ?? bridge).flush().finally(markSynced);
      void bridge.reconcileRegistry();
    },
  });
  // The HTTP API's app (hono, the status page, the embedded registry's Consul API) loads after the
  // first sync or on the first request, whichever comes first: none of it is on the path to the
  // first registration (bench/startup.ts). When the API binds and announces itself: below.
  let app: Promise<HttpApp> | undefined;
  const loadApp = () =>
    (app ??= (async () => {
      const [{ createApp }, catalog, nodeId] = await Promise.all([
        import("./http/app.ts"),
        local ? import("./http/catalog.ts") : undefined,
        local ? import("./http/consul-shapes.ts").then((m) => m.nodeIdFor(hostname)) : "",
      ]);
      return createApp({
        bridge,
        metrics,
        readiness: readinessNow,
        changes: listeners,
        allowHost: httpAddr ? hostGuard(httpAddr.hostname, allowedHosts) : undefined,
        extend: local && catalog ? catalog.catalogRoutes(local.adapter.catalog, { nodeName: hostname, nodeId, nodeAddress: hostIp, synced, version }) : undefined,
        events,
        about: () => ({
          version,
          hostname,
          runtime: rt.name,
          docker: { endpoint: docker.endpoint.address, apiVersion: docker.apiVersion },
          registry: { backend: registries.map((r) => r.adapter.backend).join(" ") },
          registries: registries.map((r) => ({ name: r.name, backend: r.adapter.backend })),
        }),
      });
    })());
  // A registry unreachable after -retry-attempts ends the daemon (registrator's rule), even though
  // Docker is already being read.
  await pinged;
  // Binding the HTTP API and arming the periodic tasks cost the single thread milliseconds that
  // the first registration would otherwise wait for (bench/startup.ts): they come once it is
  // written, or once the first sync is done when there is nothing to write or Docker is down. A
  // taken -http address is still a config error at startup; the API says it is on once the first
  // sync's writes are under way (or Docker turned out to be unreachable).
  await Promise.race([settledOnce, dockerFirst]);
  const server = await startHttp(config, rt, log, loadApp, dockerFirst);
  if (server) void synced.then(loadApp);
  for (const w of bridge.writers) {
    // Readiness probe of each registry; a slow ping (ZooKeeper waits up to its session timeout)
    // is not stacked with the next one, nor does it wait for another registry's.
    let pinging = false;
    every(5, async () => {
      if (pinging) return;
      pinging = true;
      try {
        await w.registry.ping();
        reachable.set(w.name, { ok: true, reason: "" });
      } catch (e) {
        reachable.set(w.name, { ok: false, reason: errorMessage(e) });
      } finally {
        pinging = false;
      }
    });
    // Consul anti-entropy: what the agent (or, without one, the catalog) lost is written again.
    if (w.registry.backend === "consul" || w.registry.backend === "consul-catalog") every(config["consul-sync"], () => w.reconcile({ cleanup: false }));
    every(config["ttl-refresh"], () => w.refreshTtl());
    // Docker health mirror checks with a TTL (Consul) are set again well within it.
    every(w.registry.healthRefreshSeconds ?? 0, () => w.refreshHealth());
  }
  // A changed address: every container derived again, so each service moves to it (the bridge
  // deletes the entry at the old address first where the backend keys by it).
  const syncAll = () => bridge.syncAll().catch((e) => log.warn(`Cannot list containers: ${errorMessage(e)}`));
  if (address) every(RESOLVE_EVERY_S, async () => void (address.refresh() && (await syncAll())));
  every(config.resync, async () => {
    address?.refresh();
    await bridge.syncAll().catch((e) => log.warn(`Resync: cannot list containers: ${errorMessage(e)}`));
    await bridge.reconcileRegistry();
  });

  if (rt.quiet) {
    every(1, async () => {
      if (busy && settled && performance.now() - lastWork >= QUIET_AFTER_S * 1000) {
        busy = false;
        rt.quiet!();
      }
    });
  }

  const code = await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`Received ${sig}; stopping${config["deregister-on-exit"] ? " and deregistering this host's services" : ""}`);
      void (async () => {
        abort.abort();
        for (const t of timers) clearInterval(t);
        await bridge.close({ deregisterAll: config["deregister-on-exit"], timeoutMs: 4000 });
        await Promise.all(
          registries.map((r) => r.adapter.close({ deregisterAll: config["deregister-on-exit"] }).catch((e) => log.warn(`Closing registry ${r.name}: ${errorMessage(e)}`))),
        );
        events.close();
        await server?.close().catch((e) => log.warn(`Closing the HTTP API: ${errorMessage(e)}`));
        await Promise.race([watching, new Promise((r) => setTimeout(r, 200))]);
        log.info("Stopped");
        resolve(0);
      })();
    };
    rt.onSignal("SIGTERM", () => stop("SIGTERM"));
    rt.onSignal("SIGINT", () => stop("SIGINT"));
  });
  return code;
}

/** Seconds without work after which the daemon counts as quiet (Runtime.quiet). */
const QUIET_AFTER_S = 2;

type HttpApp = { fetch: (req: Request, env: HttpEnv) => Response | Promise<Response> };

/** Seconds an idle HTTP connection stays open (Bun's ceiling is 255). */
const HTTP_IDLE_TIMEOUT_S = 60;

async function startHttp(
  config: Config,
  rt: Runtime,
  log: Logger,
  app: () => Promise<HttpApp>,
  announce: Promise<void>,
): Promise<Server | undefined> {
  if (config.http === "") return undefined;
  const addr = listenAddress(config.http)!;
  try {
    // Idle keep-alive connections close after a while; blocking queries and event streams do not.
    const server = await rt.serve(async (req, conn) => (await app()).fetch(req, { conn }), { ...addr, idleTimeout: HTTP_IDLE_TIMEOUT_S, longPoll: isLongPoll });
    void announce.then(() => log.info(`HTTP API on http://${config.http.replace(/:\d+$/, "")}:${server.port}`));
    return server;
  } catch (e) {
    if (config.httpExplicit) throw new ConfigError(`Cannot listen on -http ${config.http}: ${errorMessage(e)}`);
    log.warn(`HTTP API disabled: cannot listen on ${config.http} (${errorMessage(e)}); choose another address with -http`);
    return undefined;
  }
}

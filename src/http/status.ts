import type { ServiceStatus } from "../bridge/types.ts";

/** Whether Docker and the registries can be reached, and why not. */
export interface Readiness {
  docker: { ok: boolean; reason: string };
  /** Every registry together: ok when each is; the reason names those that are not (when several). */
  registry: { ok: boolean; reason: string };
  /** Each registry by name, in the order of the command line. */
  registries?: Array<{ name: string; ok: boolean; reason: string }>;
  /** Present while -ip names an interface or range that has no address yet. */
  address?: { ok: boolean; reason: string };
}

/** Facts about this registrator that do not change while it runs (or change rarely). */
export interface About {
  version: string;
  hostname: string;
  runtime: string;
  docker: { endpoint: string; apiVersion: string };
  registry: { backend: string };
  /** Each registry's name and backend, when there are several. */
  registries?: Array<{ name: string; backend: string }>;
}

/** One service as `/v1/services` shows it. */
export function serviceJson(s: ServiceStatus) {
  return {
    id: s.service.id,
    name: s.service.name,
    ip: s.service.ip,
    port: s.service.port,
    protocol: s.service.protocol,
    tags: s.service.tags,
    containerId: s.containerId,
    containerName: s.service.origin.containerName,
    registered: s.registered,
    ...(s.lastError ? { lastError: s.lastError } : {}),
    ...(s.outOfTraffic ? { outOfTraffic: s.outOfTraffic } : {}),
    // Which rule chose the address, port and name (SERVICE_IP, -ip → …, -default-name compose, …).
    ...(s.service.why ? { why: s.service.why } : {}),
    // One registry: the fields above are its state; several: each one's, by name.
    ...(s.registries && s.registries.length > 1 ? { registries: s.registries } : {}),
  };
}

/** `/ready`'s body: ready, the reason when not, and with several registries each one's state. */
export function readyJson(r: Readiness) {
  const ok = r.docker.ok && r.registry.ok && (r.address?.ok ?? true);
  const several = r.registries && r.registries.length > 1;
  const registryReason = several ? `registries: ${r.registry.reason}` : `registry: ${r.registry.reason}`;
  const reasons = [
    r.docker.ok ? "" : `docker: ${r.docker.reason}`,
    r.registry.ok ? "" : registryReason,
    r.address && !r.address.ok ? `address: ${r.address.reason}` : "",
  ].filter(Boolean);
  return {
    ready: ok,
    ...(ok ? {} : { reason: reasons.join("; ") }),
    ...(r.registries ? { registries: Object.fromEntries(r.registries.map((x) => [x.name, { ready: x.ok, ...(x.ok ? {} : { reason: x.reason }) }])) } : {}),
  };
}

/** `/v1/status`: what the status page shows above its table. */
export function statusJson(about: About | undefined, r: Readiness, services: ServiceStatus[], events: { clients: number; maxClients: number }) {
  return {
    ...(about ? { version: about.version, hostname: about.hostname, runtime: about.runtime } : {}),
    docker: {
      connected: r.docker.ok,
      ...(about ? { endpoint: about.docker.endpoint, apiVersion: about.docker.apiVersion } : {}),
      ...(r.docker.ok ? {} : { reason: r.docker.reason }),
    },
    registry: {
      ...(about ? { backend: about.registry.backend } : {}),
      ready: r.registry.ok,
      ...(r.registry.ok ? {} : { reason: r.registry.reason }),
    },
    ...(r.registries && r.registries.length > 1
      ? {
          registries: r.registries.map((x) => ({
            name: x.name,
            ...(about?.registries ? { backend: about.registries.find((a) => a.name === x.name)?.backend } : {}),
            ready: x.ok,
            ...(x.ok ? {} : { reason: x.reason }),
          })),
        }
      : {}),
    services: {
      total: services.length,
      registered: services.filter((s) => s.registered).length,
      failing: services.filter((s) => s.lastError).length,
      outOfTraffic: services.filter((s) => s.outOfTraffic).length,
    },
    events,
  };
}

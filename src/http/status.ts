import type { ServiceStatus } from "../bridge/types.ts";

/** Facts about this registrator that do not change while it runs (or change rarely). */
export interface About {
  version: string;
  hostname: string;
  runtime: string;
  docker: { endpoint: string; apiVersion: string };
  registry: { backend: string };
}

/** Whether registrator reaches Docker and its registry (`/v1/status`, the health endpoints). */
export interface Readiness {
  docker: { ok: boolean; reason: string };
  registry: { ok: boolean; reason: string };
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
    services: {
      total: services.length,
      registered: services.filter((s) => s.registered).length,
      failing: services.filter((s) => s.lastError).length,
      outOfTraffic: services.filter((s) => s.outOfTraffic).length,
    },
    events,
  };
}

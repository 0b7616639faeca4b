// The shapes the bridge, its writers and the HTTP API agree on. Pure types: importing this module
// from either side of the bridge creates no cycle.
import type { TrafficDecision } from "../services/traffic.ts";
import type { OutOfTrafficReason, RegistryAdapter, Service, ServiceRef } from "../types.ts";

/** Registry writes: a service's entry, its Docker health mirror, its maintenance (stop-drain). */
export type WriteOp = "register" | "deregister" | "health" | "maintenance";

/** What derivation makes of one container's inspect. */
export interface DeriveOutput {
  services: Service[];
  ignored: Array<{ port: string; reason: string }>;
  warnings: string[];
  /** Choices worth telling the operator (e.g. which network's address was used). */
  notes?: string[];
}

/**
 * A change worth telling subscribers (the SSE stream, the status page). `registry` names the
 * registry a write went to when registrator writes to several.
 */
export type BridgeChange =
  | { type: "registered"; service: Service; registry?: string }
  | { type: "deregistered"; service: ServiceRef; registry?: string }
  | { type: "failed"; op: WriteOp; service: ServiceRef; error: string; registry?: string }
  /**
   * A service's traffic state changed (outOfTraffic: why it is out now; absent: back in), whatever
   * the backend; or, with `op`, a write that carries it to the registry (the Docker health mirror,
   * maintenance) completed.
   */
  | { type: "traffic"; service: ServiceRef; outOfTraffic?: OutOfTrafficReason; op?: "health" | "maintenance"; registry?: string };

/** One service of a container as a registry should have it: the service and whether it takes traffic there. */
export interface Wanted {
  service: Service;
  decision: TrafficDecision;
}

/** What a writer asks the bridge: the containers' wanted services, never the bridge's own state. */
export interface WantedSource {
  /**
   * What container `containerId` wants in a registry now (empty: nothing, it is gone). The
   * decision depends on whether that registry mirrors Docker's health.
   */
  wanted(containerId: string, mirrorsHealth: boolean): Wanted[];
  /** Every service ID some held container wants, in or out of traffic (for -cleanup). */
  wantedIds(): Set<string>;
}

/** A service's state in one registry. */
export interface RegistryState {
  registry: string;
  registered: boolean;
  lastError?: string;
}

export interface ServiceStatus {
  service: Service;
  containerId: string;
  /** Registered in every registry. */
  registered: boolean;
  /** The last error of a write of it, in any registry. */
  lastError?: string;
  /** Present when the service is not taking traffic (see OutOfTrafficReason). */
  outOfTraffic?: OutOfTrafficReason;
  /** Per registry, in the order of the command line. */
  registries?: RegistryState[];
}

/** A registry and the name logs, metrics and the status page give it. */
export interface NamedRegistry {
  name: string;
  adapter: RegistryAdapter;
}

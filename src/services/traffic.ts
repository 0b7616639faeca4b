// Whether a service can take traffic right now (parity.md "Taking traffic: health, pause, stop").
// Pure: the caller passes the container's inspect State and what it knows about a pending stop.
//
// Rules, first match wins:
//   1. a stop signal is pending ("stopping")       → out of traffic, reason "stopping", in every mode
//      (the bridge only passes stopping=true when -deregister-on-stop is on; a backend with
//      `maintenance()` keeps the entry in maintenance instead of deleting it)
//   2. health mode "ignore"                         → registered, no mirror (as gliderlabs/registrator)
//   3. paused, without a Docker HEALTHCHECK         → out of traffic, reason "paused"
//   4. no Docker HEALTHCHECK                        → registered, no mirror (health never matters)
//   5. "auto" on a backend that mirrors health      → registered with a mirror check:
//      healthy → passing; starting, unhealthy, paused → critical (with the reason to show)
//   6. "require" anywhere, "auto" elsewhere          → registered only while healthy and not paused
// `Running` is not consulted: whether an exited container keeps its services is the lifecycle's rule
// (-deregister). Note that Docker reports an exited container with a HEALTHCHECK as "unhealthy"
// (its health monitor stopped), so callers that keep exited containers registered decide for them.

import type { HealthMirror, HealthMode, OutOfTrafficReason } from "../types.ts";

/** The part of `GET /containers/{id}/json`'s State that decides traffic. */
export interface TrafficState {
  Running?: boolean | null;
  Paused?: boolean | null;
  Health?: {
    Status?: string | null;
    Log?: ReadonlyArray<{ Output?: string | null; ExitCode?: number | null } | null> | null;
  } | null;
}

export interface TrafficInput {
  state: TrafficState | null | undefined;
  /** A SIGTERM/SIGINT/SIGQUIT/SIGKILL was sent to the running container and it has not died yet. */
  stopping?: boolean;
  /** The service's resolved policy (`Service.health`); absent means "auto". */
  health?: HealthMode;
  /** `RegistryAdapter.mirrorsHealth` of the backend. */
  mirrorsHealth?: boolean;
}

export type TrafficDecision =
  /** Register. `mirror`: also register the registrator-owned check with this status; `reason`: why it is critical. */
  | { register: true; mirror?: HealthMirror; reason?: OutOfTrafficReason }
  /** Do not register (deregister if registered; a backend with maintenance() may drain instead when stopping). */
  | { register: false; reason: OutOfTrafficReason };

/** Consul keeps at most 4 KiB of check output by default; Docker keeps 4 KiB of probe output. */
export const MIRROR_OUTPUT_MAX = 4096;

/** Docker's Health.Status, or undefined when the container has no HEALTHCHECK (absent, "" or "none"). */
export function dockerHealth(state: TrafficState | null | undefined): string | undefined {
  const s = state?.Health?.Status?.trim().toLowerCase();
  return s && s !== "none" ? s : undefined;
}

/** The output of Docker's last health probe, trimmed and capped, or "" when there is none yet. */
export function lastProbeOutput(state: TrafficState | null | undefined): string {
  const log = state?.Health?.Log ?? [];
  const out = (log[log.length - 1]?.Output ?? "").trim();
  return out.length > MIRROR_OUTPUT_MAX ? `${out.slice(0, MIRROR_OUTPUT_MAX - 3)}...` : out;
}

/** A Docker health status → the reason a service with it is out of traffic, undefined when healthy. */
function healthReason(status: string): OutOfTrafficReason | undefined {
  if (status === "healthy") return undefined;
  return status === "starting" ? "starting" : "unhealthy";
}

function mirrorOutput(reason: OutOfTrafficReason | undefined, status: string, probe: string): string {
  if (reason === "paused") return probe ? `Container is paused (last Docker health probe: ${probe})` : "Container is paused";
  if (probe) return probe;
  return status === "starting" ? "Docker health: starting (no probe has finished yet)" : `Docker health: ${status}`;
}

export function trafficDecision(input: TrafficInput): TrafficDecision {
  const mode = input.health ?? "auto";
  if (input.stopping) return { register: false, reason: "stopping" };
  if (mode === "ignore") return { register: true };
  const paused = input.state?.Paused === true;
  const status = dockerHealth(input.state);
  if (status === undefined) return paused ? { register: false, reason: "paused" } : { register: true };
  const reason: OutOfTrafficReason | undefined = paused ? "paused" : healthReason(status);
  if (mode === "auto" && input.mirrorsHealth) {
    const mirror: HealthMirror = { status: reason ? "critical" : "passing", output: mirrorOutput(reason, status, lastProbeOutput(input.state)) };
    return reason ? { register: true, mirror, reason } : { register: true, mirror };
  }
  return reason ? { register: false, reason } : { register: true };
}


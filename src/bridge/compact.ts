// How the bridge holds what it keeps per container with as few distinct objects as it can: at
// thousands of containers these are most of its memory (bench/scale.ts measures it). Nothing here
// changes a value, only how many copies of it exist.
import type { TrafficState } from "../services/traffic.ts";
import type { Service } from "../types.ts";

/** The State of a running container without HEALTHCHECK, not paused; replaced, never changed in place. */
const PLAIN_RUNNING: TrafficState = Object.freeze({ Running: true, Paused: false, Health: undefined });

/**
 * Only the part of Docker's State that decides traffic (the rest of its object is not held), and
 * the usual one (running, not paused, no HEALTHCHECK) as one object shared by all containers.
 */
export function compactState({ Running, Paused, Health }: TrafficState): TrafficState {
  return Running === true && Paused === false && Health == null ? PLAIN_RUNNING : { Running, Paused, Health };
}

/**
 * One copy of a container's ID and name for it and all its services: derivation copied them from
 * the inspect, equal strings held separately; assigning the caller's copy lets the others go.
 */
export function shareIdentity(services: Service[], id: string, name: string): void {
  for (const s of services) {
    if (s.origin.containerId === id) s.origin.containerId = id;
    if (s.origin.containerName === name) s.origin.containerName = name;
  }
}

/** One Docker event about a container, as the bridge needs it. */
export interface ContainerEvent {
  id: string;
  /** Docker's Action, e.g. "die", "destroy", "kill", "health_status: healthy". */
  action: string;
  /** Actor.Attributes, those the bridge reads: exitCode for die (Podman: containerExitCode), signal for kill. */
  attributes: { signal?: string; exitCode?: string; containerExitCode?: string };
}

/**
 * What an event tells about a container before any inspect: whether it left, stopped taking
 * traffic or came back. `other`: nothing to act on from the event alone (it is inspected anyway).
 */
export type EventMeaning =
  | { kind: "died"; code: number }
  | { kind: "gone" }
  | { kind: "stop-signal"; signal: string }
  | { kind: "paused"; paused: boolean }
  | { kind: "health"; status: string }
  | { kind: "started" }
  | { kind: "other" };

/** Docker's and Podman's actions: "health_status: healthy" is the action with its detail. */
export function meaningOf(ev: ContainerEvent): EventMeaning {
  const colon = ev.action.indexOf(":");
  const action = (colon < 0 ? ev.action : ev.action.slice(0, colon)).trim();
  const detail = colon < 0 ? "" : ev.action.slice(colon + 1).trim();
  if (action === "die" || action === "died") {
    const code = exitCodeOf(ev);
    return code === undefined ? { kind: "other" } : { kind: "died", code };
  }
  if (action === "destroy" || action === "remove") return { kind: "gone" };
  if (action === "kill") {
    const signal = ev.attributes.signal;
    return isStopSignal(signal) ? { kind: "stop-signal", signal: signal! } : { kind: "other" };
  }
  if (action === "pause" || action === "unpause") return { kind: "paused", paused: action === "pause" };
  if (action === "health_status" && detail) return { kind: "health", status: detail };
  if (action === "start") return { kind: "started" };
  return { kind: "other" };
}

/** kill's `signal` attribute: a number from Docker ("15"), a name from Podman ("SIGTERM", "TERM"). */
const STOP_SIGNALS = new Set(["15", "2", "3", "9", "SIGTERM", "SIGINT", "SIGQUIT", "SIGKILL", "TERM", "INT", "QUIT", "KILL"]);
export function isStopSignal(signal: string | undefined): boolean {
  return signal !== undefined && STOP_SIGNALS.has(signal.trim().toUpperCase());
}

/** A die event's exit code; undefined when the event does not carry one. */
function exitCodeOf(ev: ContainerEvent): number | undefined {
  const raw = ev.attributes.exitCode ?? ev.attributes.containerExitCode;
  if (raw === undefined || !/^-?\d+$/.test(raw.trim())) return undefined;
  return Number(raw);
}

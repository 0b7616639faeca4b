import type { DockerClient } from "../docker/client.ts";
import type { DockerEvent } from "../docker/schema.ts";
import { errorMessage } from "../errors.ts";
import { Backoff, sleep } from "../retry.ts";
import type { Logger } from "../types.ts";
import type { Bridge } from "./bridge.ts";
import type { ContainerEvent } from "./events.ts";

export interface WatchHooks {
  onConnected?: (apiVersion: string) => void;
  onDisconnected?: (reason: string) => void;
  onEvent?: (action: string) => void;
  /** After the first full sync with Docker (startup). */
  onSynced?: () => void;
  /**
   * Until the first sync has succeeded, events wait for this or for that sync to end, whichever
   * comes first. What the stream replays from before the list (a second of a busy host: dozens of
   * events) is then read after the first registration instead of before it (bench/latency.ts).
   */
  eventsAfter?: Promise<void>;
}

/** The container an event is about; Podman's and old Docker's shapes included. */
export function eventContainerId(ev: DockerEvent): string | undefined {
  if (ev.Type && ev.Type !== "container") return undefined;
  return ev.Actor?.ID ?? ev.id ?? undefined;
}

/** The event as the bridge takes it: container, Action (older engines: status) and attributes. */
export function containerEvent(ev: DockerEvent): ContainerEvent | undefined {
  const id = eventContainerId(ev);
  if (!id) return undefined;
  return { id, action: ev.Action ?? ev.status ?? "", attributes: ev.Actor?.Attributes ?? {} };
}

/**
 * Connect → subscribe → list → follow events, forever. When the stream ends or Docker goes away:
 * back off, reconnect, replay from the last event seen (`since`), then resync everything. Never
 * throws; returns when `signal` aborts.
 */
export async function watchDocker(
  docker: DockerClient,
  bridge: Bridge,
  log: Logger,
  signal: AbortSignal,
  hooks: WatchHooks = {},
): Promise<void> {
  let lastNano: bigint | undefined;
  // Quick while Docker restarts, capped so a long outage is probed every few seconds.
  const backoff = new Backoff({ minMs: 250, maxMs: 5000 });
  let synced = false;
  let connectedOnce = false;
  const syncEverything = () =>
    bridge
      .syncAll()
      .then(() => {
        if (!synced) {
          synced = true;
          hooks.onSynced?.();
        }
      })
      .catch((e) => log.warn(`Cannot list containers: ${errorMessage(e)}`));
  while (!signal.aborted) {
    let stream: AsyncIterable<DockerEvent>;
    let resync: Promise<void> | undefined;
    try {
      const version = await docker.ping();
      // No change between the list and the stream may be missed: the stream replays from a
      // moment before the list (the last event seen, a microsecond early as timeNano loses
      // precision as a JS number; at first, a second before the engine's clock at the ping), so
      // the list need not wait for the subscription. A replayed event is harmless (syncs are
      // level-triggered). An engine without a clock (no Date header) is subscribed to first.
      const since = lastNano !== undefined ? lastNano - 1000n : docker.clockNano !== undefined ? docker.clockNano - 1_000_000_000n : undefined;
      const opening = docker.openEvents({ sinceNano: since, signal });
      if (since !== undefined) {
        opening.catch(() => {}); // awaited below
        resync = syncEverything();
      }
      stream = await opening;
      if (connectedOnce) log.info(`Reconnected to Docker at ${docker.endpoint.address}; resyncing`);
      else log.info(`Connected to Docker at ${docker.endpoint.address} (API ${version || "unversioned"})`);
      connectedOnce = true;
      hooks.onConnected?.(version);
      backoff.reset();
    } catch (e) {
      if (signal.aborted) return;
      hooks.onDisconnected?.(errorMessage(e));
      const delay = backoff.next();
      log.warn(`Docker unavailable: ${errorMessage(e)}; retrying in ${delay} ms`);
      await sleep(delay, signal);
      continue;
    }
    resync ??= syncEverything();
    try {
      if (!synced && hooks.eventsAfter) await Promise.race([hooks.eventsAfter, resync]);
      for await (const ev of stream) {
        if (ev.timeNano) lastNano = BigInt(Math.trunc(ev.timeNano));
        else if (ev.time) lastNano = BigInt(ev.time) * 1_000_000_000n;
        const cev = containerEvent(ev);
        hooks.onEvent?.(ev.Action ?? ev.status ?? "unknown");
        if (cev) void bridge.event(cev);
      }
      if (signal.aborted) return;
      hooks.onDisconnected?.("event stream ended");
      log.warn("Docker event stream ended; reconnecting");
    } catch (e) {
      if (signal.aborted) return;
      hooks.onDisconnected?.(errorMessage(e));
      log.warn(`Docker event stream lost: ${errorMessage(e)}; reconnecting`);
    }
    await resync;
  }
}

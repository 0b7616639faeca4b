import type { BridgeChange } from "../bridge/types.ts";
import type { Connection } from "../runtime/types.ts";

export interface EventStreamOptions {
  /** Concurrent `/v1/events` clients; one more gets 503 (default 64). */
  maxClients?: number;
  /** Unsent bytes a client may hold before it is dropped (default 256 KiB). */
  maxBufferedBytes?: number;
  /** Interval of the keep-alive comment that stops idle proxies cutting the stream (default 15 s). */
  keepAliveMs?: number;
  /** Told when a client is dropped for not reading, and when one is refused over the cap. */
  onDropped?: () => void;
  onRefused?: () => void;
}

interface Client {
  controller: ReadableStreamDefaultController<Uint8Array>;
  conn?: Connection;
}

const encoder = new TextEncoder();
const KEEP_ALIVE = encoder.encode(": keep-alive\n\n");

/** One Server-Sent Event; JSON never holds a raw newline, so data fits on one line. */
export function sseMessage(event: string, data: unknown, id?: number): string {
  return `event: ${event}\n${id !== undefined ? `id: ${id}\n` : ""}data: ${JSON.stringify(data)}\n\n`;
}

/** The JSON an SSE client gets for a registration change (the service reduced to what names it). */
export function changeData(ch: BridgeChange): Record<string, unknown> {
  const { type: _type, ...rest } = ch;
  const s = "service" in ch ? ch.service : undefined;
  return { ...rest, ...(s ? { service: { id: s.id, name: s.name, ip: s.ip, port: s.port } } : {}) };
}

/**
 * The clients of `/v1/events`. Each event is encoded once and queued on every client's stream;
 * the runtime pulls from a stream only as fast as the socket drains, so a client that stops
 * reading sees its queue grow, and past maxBufferedBytes it is dropped (nothing more queued, its
 * connection closed) rather than buffered without bound. At most maxClients at once.
 */
export class EventStreams {
  readonly maxClients: number;
  readonly maxBufferedBytes: number;
  private readonly keepAliveMs: number;
  private readonly clients = new Set<Client>();
  private seq = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Clients dropped for not reading, and refused over the cap, since start. */
  dropped = 0;
  refused = 0;

  constructor(private readonly o: EventStreamOptions = {}) {
    this.maxClients = o.maxClients ?? 64;
    this.maxBufferedBytes = o.maxBufferedBytes ?? 256 * 1024;
    this.keepAliveMs = o.keepAliveMs ?? 15_000;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Sends a registration change to every client. */
  publish(ch: BridgeChange): void {
    this.broadcast(ch.type, changeData(ch));
  }

  broadcast(event: string, data: unknown): void {
    if (!this.clients.size) return;
    const bytes = encoder.encode(sseMessage(event, data, ++this.seq));
    for (const c of this.clients) this.send(c, bytes);
  }

  /**
   * A new client's response: an event stream that starts with `first`, or 503 when maxClients are
   * connected. `signal` is the request's (client gone); `conn` lets a dropped client's socket close.
   */
  open(first: { event: string; data: unknown }, o: { signal?: AbortSignal; conn?: Connection } = {}): Response {
    if (this.clients.size >= this.maxClients) {
      this.refused++;
      this.o.onRefused?.();
      const error = `Too many event-stream clients: ${this.maxClients} are connected, the most allowed; retry later`;
      return Response.json({ error }, { status: 503, headers: { "Retry-After": "5" } });
    }
    let client: Client | undefined;
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          client = { controller, conn: o.conn };
          this.clients.add(client);
          controller.enqueue(encoder.encode(`retry: 2000\n${sseMessage(first.event, first.data)}`));
          this.keepAlive();
        },
        cancel: () => this.remove(client),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: this.maxBufferedBytes }),
    );
    o.signal?.addEventListener("abort", () => this.remove(client), { once: true });
    // The stream is long-lived by design: exempt it from any idle timeout of the server.
    o.conn?.setIdleTimeout(0);
    return new Response(stream, {
      headers: {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
      },
    });
  }

  /** Ends every stream (shutdown), so servers that wait for open responses can stop. */
  close(): void {
    for (const c of this.clients) {
      try {
        c.controller.close();
      } catch {}
    }
    this.clients.clear();
    this.keepAlive();
  }

  private send(c: Client, bytes: Uint8Array): void {
    try {
      c.controller.enqueue(bytes);
    } catch {
      this.remove(c);
      return;
    }
    if ((c.controller.desiredSize ?? 0) < 0) this.drop(c);
  }

  /**
   * A client that does not read: it gets nothing more, its stream ends after what is queued, and
   * its connection is closed soon (on Bun; on Deno when the peer goes). Closing rather than
   * erroring the stream keeps the runtime from logging a stack trace for each dropped client.
   */
  private drop(c: Client): void {
    this.remove(c);
    this.dropped++;
    this.o.onDropped?.();
    try {
      c.controller.close();
    } catch {}
    c.conn?.setIdleTimeout(1);
  }

  private remove(c: Client | undefined): void {
    if (c && this.clients.delete(c)) this.keepAlive();
  }

  /** Runs the keep-alive timer while there are clients, and only then. */
  private keepAlive(): void {
    if (this.clients.size && !this.timer) {
      this.timer = setInterval(() => {
        for (const c of this.clients) this.send(c, KEEP_ALIVE);
      }, this.keepAliveMs);
      (this.timer as { unref?: () => void }).unref?.();
    } else if (!this.clients.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

// How the embedded registry answers one Consul read: query parsing (errors as Consul's plain-text
// 400s), ?dc, consistency, the wait for the first Docker sync, blocking on the endpoint's own
// index, and the query-meta headers.

import type { Context, Hono } from "hono";
import type { LocalCatalog } from "../registries/local.ts";
import { loadFilterEngine } from "./consul-filter.ts";
import { type Consistency, QueryError, effectiveWaitMs, parseBlocking, parseConsistency } from "./consul-query.ts";
import type { ConsulNode } from "./consul-shapes.ts";

export interface ReadContext {
  catalog: LocalCatalog;
  node: ConsulNode;
  /** Resolves after the first sync with Docker. */
  synced: Promise<void>;
  /** How long a read waits for that sync before a 503. */
  syncWaitMs: number;
}

export interface PreparedRead {
  /** The endpoint's index (blocking reads and X-Consul-Index); absent for non-blocking reads. */
  index?: () => number;
  /** The answer, computed after any blocking wait. */
  render: () => unknown;
  /** Wait for the first Docker sync before answering (catalog contents). Default true. */
  needsSync?: boolean;
}

export function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } });
}

/** The URL path after `prefix`, percent-decoded as Go's net/http does. */
export function pathTail(c: Context, prefix: string): string {
  const raw = new URL(c.req.url).pathname.slice(prefix.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new QueryError(400, `Invalid URL escape in "${raw}"`);
  }
}

/** Consul's answer to a path it does not serve (agent/http.go Index). */
export function notFound(c: Context): Response {
  const path = new URL(c.req.url).pathname;
  return text(
    404,
    path.includes("/v1/")
      ? "Invalid URL path: not a recognized HTTP API endpoint\n"
      : "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n",
  );
}

/**
 * A read-only Consul endpoint: GET (and HEAD) run `handler`; OPTIONS answers the Allow header;
 * any other method is Consul's 405 `method X not allowed` with Allow.
 */
export function consulGet(app: Hono, path: string, handler: (c: Context) => Response | Promise<Response>): void {
  app.all(path, (c) => {
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return handler(c);
    if (method === "OPTIONS") return new Response(null, { status: 200, headers: { Allow: "OPTIONS,GET" } });
    return text(405, `method ${method} not allowed`, { Allow: "OPTIONS,GET" });
  });
}

function json(c: Context, value: unknown, headers: Record<string, string>): Response {
  const pretty = new URL(c.req.url).searchParams.has("pretty");
  const body = pretty ? `${JSON.stringify(value, null, 4)}\n` : JSON.stringify(value);
  return new Response(body, { status: 200, headers: { "Content-Type": "application/json", ...headers } });
}

async function waitForSync(ctx: ReadContext, signal: AbortSignal): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ok = await Promise.race([
    ctx.synced.then(() => true),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), ctx.syncWaitMs);
      signal.addEventListener("abort", () => r(false), { once: true });
    }),
  ]);
  clearTimeout(timer);
  return ok;
}

/** Runs one read: `prepare` parses the endpoint's own parameters and may throw QueryError. */
export async function consulRead(ctx: ReadContext, c: Context, prepare: (q: URLSearchParams) => PreparedRead): Promise<Response> {
  let consistency: Consistency;
  let read: PreparedRead;
  let blocking: ReturnType<typeof parseBlocking>;
  // Endpoints compile ?filter= synchronously; a `matches` needs the RE2 engine loaded first.
  await loadFilterEngine(new URL(c.req.url).searchParams.get("filter"));
  try {
    const q = new URL(c.req.url).searchParams;
    blocking = parseBlocking(q);
    consistency = parseConsistency(q);
    const dc = q.get("dc");
    if (dc && dc !== ctx.node.datacenter) throw new QueryError(500, "No path to datacenter");
    read = prepare(q);
  } catch (e) {
    if (e instanceof QueryError) return text(e.status, e.message);
    throw e;
  }
  const signal = c.req.raw.signal;
  if (read.needsSync !== false && !(await waitForSync(ctx, signal))) {
    return text(503, "The embedded registry has not finished its first sync with Docker yet; retry shortly");
  }
  const index = read.index;
  if (index && blocking.index > 0n) {
    await ctx.catalog.waitUntil(() => BigInt(index()) > blocking.index, effectiveWaitMs(blocking.waitMs), signal);
  }
  const headers: Record<string, string> = {};
  if (index) {
    headers["X-Consul-Index"] = String(Math.max(1, index()));
    headers["X-Consul-KnownLeader"] = "true";
    headers["X-Consul-LastContact"] = "0";
    headers["X-Consul-Effective-Consistency"] = consistency;
    headers["X-Consul-Query-Backend"] = "blocking-query";
  }
  return json(c, read.render(), headers);
}

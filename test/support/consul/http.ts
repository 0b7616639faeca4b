// Response helpers shared by the route files: Go-style text errors, JSON bodies, query-meta
// headers, and a route table that answers wrong methods with 405 + Allow like the agent.

import type { Context, Hono } from "hono";
import { goJson } from "./gojsonout.ts";

export interface Env {
  Variables: {
    /** The raw request body, read once by the logging middleware. */
    body: Uint8Array;
  };
}

export type Ctx = Context<Env>;

/** An error answered with a status and a plain-text body (Consul's HTTPError). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function textResponse(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(text, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } });
}

/** 200 with a JSON body, pretty-printed when the request has ?pretty. */
export function jsonResponse(c: Ctx, value: unknown, headers: Record<string, string> = {}, status = 200): Response {
  const pretty = new URL(c.req.url).searchParams.has("pretty");
  return new Response(goJson(value, pretty), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** 200 with no body, as the agent answers successful writes. */
export function emptyResponse(): Response {
  return new Response(null, { status: 200 });
}

/** Headers of a read served by the (emulated) servers: X-Consul-Index never 0. */
export function queryMeta(index: number): Record<string, string> {
  return {
    "X-Consul-Index": String(Math.max(index, 1)),
    "X-Consul-KnownLeader": "true",
    "X-Consul-LastContact": "0",
    "X-Consul-Effective-Consistency": "leader",
    "X-Consul-Query-Backend": "blocking-query",
  };
}

export function bodyText(c: Ctx): string {
  return new TextDecoder().decode(c.get("body"));
}

export function query(c: Ctx): URLSearchParams {
  return new URL(c.req.url).searchParams;
}

/** The URL path after `prefix`, percent-decoded as Go's net/http does (…/deregister/a%2Fb → "a/b"). */
export function pathTail(c: Ctx, prefix: string): string {
  const raw = new URL(c.req.url).pathname;
  const tail = raw.startsWith(prefix) ? raw.slice(prefix.length) : "";
  try {
    return decodeURIComponent(tail);
  } catch {
    throw new HttpError(400, `invalid URL escape "${tail}"`);
  }
}

type Handler = (c: Ctx) => Response | Promise<Response>;

/**
 * Registers a path (exact, or a prefix when it ends in "/*") for the given methods. Other
 * methods get 405 `method X not allowed` with `Allow: OPTIONS,<methods>`; OPTIONS gets the
 * Allow header alone.
 */
export function route(app: Hono<Env>, path: string, methods: string[], handler: Handler): void {
  const allow = ["OPTIONS", ...methods].join(",");
  app.all(path, async (c) => {
    if (c.req.method === "OPTIONS") return new Response(null, { status: 200, headers: { Allow: allow } });
    if (!methods.includes(c.req.method)) {
      return textResponse(405, `method ${c.req.method} not allowed`, { Allow: allow });
    }
    return handler(c);
  });
}

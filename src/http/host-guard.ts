// DNS-rebinding guard: while the HTTP API listens on loopback, a web page could still reach it
// by pointing a name it controls at 127.0.0.1; the browser then sends that name as Host. Only
// loopback names (and those named by -http-allowed-hosts) are answered.

import { isHostPortError, parseHostPort } from "../hostport.ts";

const LOOPBACK_V4 = /^127(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** The host of a Host header, lower-cased, without port, brackets or trailing dot. */
export function hostOf(header: string): string {
  // A fully qualified name's trailing dot, before any port, names the same host.
  const h = header.trim().toLowerCase().replace(/\.(?=(?::\d*)?$)/, "");
  // Anything that is not host[:port] (a bare IPv6 address included) is compared as written.
  const r = parseHostPort(h, { defaultPort: 0, minPort: 0 });
  return isHostPortError(r) ? h : r.host;
}

export function isLoopbackName(host: string): boolean {
  return host === "localhost" || host === "::1" || LOOPBACK_V4.test(host);
}

/**
 * The Host check for an API bound to `bindHost`: undefined (no check) when bound to another
 * address and no names were given; else a predicate that accepts loopback names and `allowed`.
 * A request without Host (HTTP/1.0) comes from no browser and is accepted.
 */
export function hostGuard(bindHost: string, allowed: readonly string[]): ((host: string | null) => boolean) | undefined {
  const names = new Set(allowed.map(hostOf));
  if (names.size === 0 && !isLoopbackName(hostOf(bindHost))) return undefined;
  return (header) => header === null || isLoopbackName(hostOf(header)) || names.has(hostOf(header));
}

export function hostRefusal(header: string): Response {
  return new Response(
    `Host "${header}" is not allowed: registrator's HTTP API answers only requests for localhost, 127.0.0.1 or [::1] (and names given with -http-allowed-hosts), to keep web pages out through DNS rebinding\n`,
    { status: 403, headers: { "Content-Type": "text/plain; charset=utf-8" } },
  );
}

/** Requests that legitimately stay open: Consul blocking queries and event streams. */
export function isLongPoll(req: Request): boolean {
  const url = new URL(req.url);
  return !!url.searchParams.get("index") || url.pathname === "/v1/events" || (req.headers.get("accept") ?? "").includes("text/event-stream");
}

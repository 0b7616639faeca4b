// ACLs with one management token and default policy "deny".
//
// Token lookup order as the agent's parseToken: ?token=, X-Consul-Token, Authorization: Bearer.
// An unknown token is refused with 403 "ACL not found" wherever a token is resolved. No token
// means the anonymous token: writes and single-object reads are refused with Consul's
// PermissionDeniedError text, list reads are filtered to nothing (200), as a real agent does.
// /v1/status/* never looks at tokens.

import { type Ctx, HttpError, query } from "./http.ts";

export type Caller = "allowed" | "anonymous";

/** Reads the request's token the way the agent does; "" when none was sent. */
export function requestToken(c: Ctx): string {
  const fromQuery = query(c).get("token");
  if (fromQuery) return fromQuery;
  const header = c.req.header("X-Consul-Token");
  if (header) return header;
  const auth = c.req.header("Authorization");
  if (auth) {
    const parts = auth.split(" ");
    if (parts.length > 1 && parts[0]?.toLowerCase() === "bearer") {
      return (parts.slice(1).join(" ").trim().split(" ")[0] ?? "").trim();
    }
  }
  return "";
}

export class Acl {
  constructor(private readonly token: string | undefined) {}

  get enabled(): boolean {
    return this.token !== undefined;
  }

  /** Resolves the caller; throws 403 "ACL not found" for a token the agent does not know. */
  resolve(c: Ctx): Caller {
    if (this.token === undefined) return "allowed";
    const t = requestToken(c);
    if (t === "") return "anonymous";
    if (t === this.token) return "allowed";
    throw new HttpError(403, "ACL not found");
  }

  /** Throws Consul's permission-denied error when the anonymous caller needs `resource:level` on `name`. */
  require(caller: Caller, resource: "service" | "node" | "key" | "agent", level: "read" | "write", name: string): void {
    if (caller === "allowed") return;
    throw new HttpError(
      403,
      `Permission denied: anonymous token lacks permission '${resource}:${level}' on "${name}". ` +
        "The anonymous token is used implicitly when a request does not specify a token.",
    );
  }

  /** The X-Consul-Default-ACL-Policy header every response carries. */
  get defaultPolicy(): string {
    return this.enabled ? "deny" : "allow";
  }
}

// KV store (protocols.md 2.8): GET (?recurse, ?keys[&separator=], ?raw, blocking), PUT (raw body,
// ?flags, ?cas), DELETE (?recurse, ?cas). Missing → 404 with an empty body and X-Consul-Index.

import type { Hono } from "hono";
import type { Acl } from "./acl.ts";
import { blockOnIndex, parseWait } from "./blocking.ts";
import { type Ctx, type Env, HttpError, jsonResponse, pathTail, query, queryMeta, route } from "./http.ts";
import { kvKeyError } from "./kvkeys.ts";
import type { ConsulState, KvEntry } from "./state.ts";

export interface KvConfig {
  state: ConsulState;
  acl: Acl;
  maxValueSize: number;
  validateKeys: boolean;
}

/** strconv.ParseUint(s, 10, 64), failing with Go's text (answered as 500 by the agent). */
function parseUint(s: string): bigint {
  if (!/^\d+$/.test(s)) throw new HttpError(500, `strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v > (1n << 64n) - 1n) throw new HttpError(500, `strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
  return v;
}

/** 400 "Conflicting flags: <query>" when more than one of `flags` is present. */
function conflicting(c: Ctx, ...flags: string[]): void {
  const q = query(c);
  if (flags.filter((f) => q.has(f)).length > 1) {
    const sorted = new URLSearchParams([...q.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    throw new HttpError(400, `Conflicting flags: ${sorted.toString()}\n`);
  }
}

function entryJson(e: KvEntry): Record<string, unknown> {
  return {
    LockIndex: e.LockIndex,
    Key: e.Key,
    Flags: e.Flags,
    Value: e.Value === null ? null : Buffer.from(e.Value).toString("base64"),
    CreateIndex: e.CreateIndex,
    ModifyIndex: e.ModifyIndex,
  };
}

function notFound(index: number): Response {
  return new Response(null, { status: 404, headers: queryMeta(index) });
}

function sortedKeys(state: ConsulState, prefix: string): string[] {
  return [...state.kv.keys()].filter((k) => k.startsWith(prefix)).sort();
}

export function kvRoutes(app: Hono<Env>, cfg: KvConfig): void {
  const { state, acl } = cfg;

  route(app, "/v1/kv/*", ["GET", "PUT", "DELETE"], async (c) => {
    const params = parseWait(c);
    const key = pathTail(c, "/v1/kv/");
    if (cfg.validateKeys) {
      const err = kvKeyError(new URL(c.req.url).pathname, key);
      if (err) throw new HttpError(400, err);
    }
    const q = query(c);
    if (c.req.method === "GET") return q.has("keys") ? getKeys(c, key, params) : get(c, key, params);
    if (c.req.method === "PUT") return put(c, key);
    return del(c, key);
  });

  async function get(c: Ctx, key: string, params: ReturnType<typeof parseWait>): Promise<Response> {
    const q = query(c);
    const recurse = q.has("recurse");
    if (!recurse && key === "") throw new HttpError(400, "Missing key name");
    const caller = acl.resolve(c);
    if (!recurse) acl.require(caller, "key", "read", key);
    await blockOnIndex(state, c, params, () => state.kvIndex);
    const entries = caller !== "allowed" ? [] : recurse ? sortedKeys(state, key).map((k) => state.kv.get(k) as KvEntry) : [state.kv.get(key)].filter((e): e is KvEntry => e !== undefined);
    if (entries.length === 0) return notFound(state.kvIndex);
    const first = entries[0] as KvEntry;
    if (q.has("raw") && !recurse) {
      return new Response(new Uint8Array(first.Value ?? []), {
        status: 200,
        headers: { ...queryMeta(state.kvIndex), "Content-Type": "text/plain", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox" },
      });
    }
    return jsonResponse(c, entries.map(entryJson), queryMeta(state.kvIndex));
  }

  async function getKeys(c: Ctx, prefix: string, params: ReturnType<typeof parseWait>): Promise<Response> {
    const q = query(c);
    const sep = q.has("separator") ? (q.get("separator") ?? "") : q.has("seperator") ? (q.get("seperator") ?? "") : "";
    const caller = acl.resolve(c);
    await blockOnIndex(state, c, params, () => state.kvIndex);
    const keys: string[] = [];
    for (const k of caller === "allowed" ? sortedKeys(state, prefix) : []) {
      const at = sep === "" ? -1 : k.indexOf(sep, prefix.length);
      const shown = at < 0 ? k : k.slice(0, at + sep.length);
      if (keys[keys.length - 1] !== shown) keys.push(shown);
    }
    if (keys.length === 0 && prefix !== "") return notFound(state.kvIndex);
    return jsonResponse(c, keys, queryMeta(state.kvIndex));
  }

  function put(c: Ctx, key: string): Response {
    if (key === "") throw new HttpError(400, "Missing key name");
    conflicting(c, "cas", "acquire", "release");
    const q = query(c);
    const flags = q.has("flags") ? parseUint(q.get("flags") ?? "") : 0n;
    const cas = q.has("cas") ? parseUint(q.get("cas") ?? "") : undefined;
    const session = q.get("acquire") ?? q.get("release");
    const length = Number(c.req.header("Content-Length") ?? "0");
    if (length > cfg.maxValueSize) {
      throw new HttpError(
        413,
        `Request body(${length} bytes) too large, max size: ${cfg.maxValueSize} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.`,
      );
    }
    acl.require(acl.resolve(c), "key", "write", key);
    if (session !== null) throw new HttpError(500, `Invalid session ${JSON.stringify(session)}`);
    const body = c.get("body");
    const existing = state.kv.get(key);
    if (cas !== undefined && BigInt(existing?.ModifyIndex ?? 0) !== cas) {
      return jsonResponse(c, false);
    }
    state.putKv(key, body.length === 0 ? null : body.slice(), flags);
    return jsonResponse(c, true);
  }

  function del(c: Ctx, key: string): Response {
    conflicting(c, "recurse", "cas");
    const q = query(c);
    const recurse = q.has("recurse");
    if (!recurse && key === "") throw new HttpError(400, "Missing key name");
    const cas = q.has("cas") ? parseUint(q.get("cas") ?? "") : undefined;
    acl.require(acl.resolve(c), "key", "write", key);
    if (cas !== undefined) {
      const existing = state.kv.get(key);
      if (!existing) return jsonResponse(c, true);
      if (BigInt(existing.ModifyIndex) !== cas) return jsonResponse(c, false);
    }
    state.deleteKv(recurse ? sortedKeys(state, key) : [key]);
    return jsonResponse(c, true);
  }
}

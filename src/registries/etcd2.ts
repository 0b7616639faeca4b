// etcd's v2 keys API (protocols.md 3.5), for old clusters and the original SkyDNS 2 server.
// TTLs are per key: written with `ttl=N`, kept alive with `refresh=true&prevExist=true`.

import type { Logger } from "../types.ts";
import { EtcdAuthError, EtcdError, type EtcdHttp, type EtcdResponse, type KvEntry, type KvStore } from "./etcd-client.ts";
import { eachLimit } from "./etcd3.ts";

const KEY_NOT_FOUND = 100;
const DIR_NOT_EMPTY = 108;

interface V2Node {
  key?: string;
  value?: string;
  dir?: boolean;
  nodes?: V2Node[];
}

export function v2Error(res: EtcdResponse, what: string): EtcdError {
  if (res.status === 404 && !res.contentType.includes("json")) {
    return new EtcdError(
      `etcd at ${res.endpoint} does not serve the v2 keys API (${what}: 404 ${res.text.trim().slice(0, 100)}); ` +
        `start etcd 3.4/3.5 with --enable-v2, or remove "?api=v2" from the registry URI to use the v3 API`,
      404,
    );
  }
  try {
    const j = JSON.parse(res.text) as { errorCode?: number; message?: string; cause?: string };
    const cause = j.cause ? ` (${j.cause})` : "";
    return new EtcdError(`${res.status} ${j.message ?? res.text.trim()}${cause}`, res.status, j.errorCode);
  } catch {
    return new EtcdError(`${res.status} ${res.text.trim().slice(0, 200)}`, res.status);
  }
}

const notFound = (res: EtcdResponse) => res.status === 404 && res.contentType.includes("json") && errorCode(res) === KEY_NOT_FOUND;

function errorCode(res: EtcdResponse): number | undefined {
  try {
    return (JSON.parse(res.text) as { errorCode?: number }).errorCode;
  } catch {
    return undefined;
  }
}

export class EtcdV2Store implements KvStore {
  readonly api = "v2" as const;

  constructor(
    private readonly http: EtcdHttp,
    /** Per-key TTL in seconds; 0 = none. */
    private readonly ttl: number,
    private readonly log: Logger,
  ) {}

  async ping(_prefix: string): Promise<void> {
    const res = await this.http.v2("GET", "/");
    if (res.status === 200) return;
    const err = v2Error(res, "GET /v2/keys/");
    if (res.status === 401 && this.http.settings.user !== undefined) {
      throw new EtcdAuthError(`etcd authentication failed at ${res.endpoint}: ${err.message} (check ETCDCTL_USER)`, 401, err.code);
    }
    throw err;
  }

  async put(key: string, value: string): Promise<void> {
    const form: Record<string, string> = { value };
    if (this.ttl > 0) form.ttl = String(this.ttl);
    const res = await this.http.v2("PUT", key, { form });
    if (res.status !== 200 && res.status !== 201) throw v2Error(res, `PUT /v2/keys${key}`);
  }

  async delete(key: string): Promise<void> {
    const res = await this.http.v2("DELETE", key);
    if (res.status === 200 || notFound(res)) return;
    throw v2Error(res, `DELETE /v2/keys${key}`);
  }

  async removeEmptyDir(dir: string): Promise<void> {
    // `dir=true` without `recursive` deletes only an empty directory: a record written meanwhile
    // by anyone keeps it (403, "Directory not empty"), and a later write creates it again.
    const res = await this.http.v2("DELETE", dir, { query: "dir=true" });
    if (res.status === 200 || notFound(res)) return;
    if (res.status === 403 && errorCode(res) === DIR_NOT_EMPTY) return;
    throw v2Error(res, `DELETE /v2/keys${dir}?dir=true`);
  }

  async list(prefix: string): Promise<KvEntry[]> {
    const dir = prefix.replace(/\/+$/, "") || "/";
    const res = await this.http.v2("GET", dir, { query: "recursive=true" });
    if (notFound(res)) return [];
    if (res.status !== 200) throw v2Error(res, `GET /v2/keys${dir}`);
    const out: KvEntry[] = [];
    const walk = (n: V2Node | undefined) => {
      if (!n) return;
      if (n.dir) n.nodes?.forEach(walk);
      else if (n.key !== undefined && n.key.startsWith(prefix)) out.push({ key: n.key, value: n.value ?? "" });
    };
    walk((JSON.parse(res.text) as { node?: V2Node }).node);
    return out;
  }

  /** Refreshes each key's TTL without rewriting its value; a key that expired is written again. */
  async refresh(entries: KvEntry[]): Promise<void> {
    if (this.ttl <= 0) return;
    let recreated = 0;
    await eachLimit(entries, 8, async ({ key, value }) => {
      const res = await this.http.v2("PUT", key, { form: { ttl: String(this.ttl), refresh: "true", prevExist: "true" } });
      if (res.status === 200) return;
      if (!notFound(res)) throw v2Error(res, `PUT /v2/keys${key} (refresh)`);
      recreated++;
      await this.put(key, value);
    });
    if (recreated) this.log.warn(`etcd: ${recreated} keys had expired before their TTL refresh; written again`);
  }

  async close(_revoke: boolean): Promise<void> {
    // Nothing to release: v2 has no leases, and the bridge deletes what it wants deleted.
  }
}

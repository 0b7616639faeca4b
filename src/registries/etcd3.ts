// etcd v3 through its JSON gateway (protocols.md 3.2–3.4): base64 keys and values, int64s as
// strings, one lease per registrator for TTLs. Invariant: every key we hold is attached to the
// current lease; whenever a new lease is granted, every held key is re-written onto it.

import { Buffer } from "node:buffer";
import type { Logger } from "../types.ts";
import { EtcdError, type EtcdHttp, type KvEntry, type KvStore } from "./etcd-client.ts";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString("utf8");

/** range_end for a prefix: the prefix with its last byte incremented (trailing 0xff bytes dropped). */
export function prefixRangeEnd(prefix: string): string {
  const bytes = [...Buffer.from(prefix, "utf8")];
  while (bytes.length && bytes[bytes.length - 1] === 0xff) bytes.pop();
  if (!bytes.length) return "AA=="; // "\0": to the end of the keyspace
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) + 1;
  return Buffer.from(bytes).toString("base64");
}

function isLeaseNotFound(e: unknown): boolean {
  return e instanceof EtcdError && e.status === 404 && (e.code === 5 || /lease not found/.test(e.message));
}

/** Runs `fn` over `items`, at most `limit` at a time; rejects with the first error after all settle. */
export async function eachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.e;
}

export class EtcdV3Store implements KvStore {
  readonly api = "v3" as const;
  private lease?: string;
  private granting?: Promise<string>;
  /** Keys written with a lease (key → value), re-written when the lease is replaced. */
  private readonly held = new Map<string, string>();

  constructor(
    private readonly http: EtcdHttp,
    /** Lease TTL in seconds; 0 = no lease, keys live until deleted. */
    private readonly ttl: number,
    private readonly log: Logger,
  ) {}

  /** The lease ID in use, if any (for tests and logs). */
  get leaseId(): string | undefined {
    return this.lease;
  }

  async ping(prefix: string): Promise<void> {
    await this.http.authToken();
    await this.http.v3("/kv/range", { key: b64(prefix), range_end: prefixRangeEnd(prefix), limit: 1, keys_only: true });
  }

  async put(key: string, value: string): Promise<void> {
    if (this.ttl <= 0) {
      await this.rawPut(key, value);
      return;
    }
    const lease = await this.currentLease();
    try {
      await this.rawPut(key, value, lease);
    } catch (e) {
      if (!isLeaseNotFound(e)) throw e;
      this.held.set(key, value);
      // A replacement started by someone else may have taken its snapshot before our key.
      if (!(await this.replaceLease(lease, "a put answered lease not found"))) {
        await this.rawPut(key, value, await this.currentLease());
      }
      return;
    }
    this.held.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.held.delete(key);
    await this.http.v3("/kv/deleterange", { key: b64(key) });
  }

  async list(prefix: string): Promise<KvEntry[]> {
    const r = await this.http.v3<{ kvs?: Array<{ key?: string; value?: string }> }>("/kv/range", {
      key: b64(prefix),
      range_end: prefixRangeEnd(prefix),
    });
    return (r.kvs ?? []).map((kv) => ({ key: unb64(kv.key), value: unb64(kv.value) }));
  }

  async refresh(entries: KvEntry[]): Promise<void> {
    if (this.ttl <= 0) return;
    for (const e of entries) this.held.set(e.key, e.value);
    const lease = this.lease;
    if (lease === undefined) {
      // Never granted, or lost and not yet replaced: granting re-writes everything held.
      if (this.held.size) await this.currentLease();
      return;
    }
    const r = await this.http.v3<{ result?: { TTL?: string | number }; error?: { message?: string } }>(
      "/lease/keepalive",
      { ID: lease },
    );
    if (r.error) throw new EtcdError(`lease keepalive failed: ${r.error.message ?? JSON.stringify(r.error)}`, 200);
    const ttl = Number(r.result?.TTL ?? 0);
    if (!(ttl > 0)) await this.replaceLease(lease, "keepalive reports it expired");
  }

  async close(revoke: boolean): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    this.held.clear();
    if (!revoke || lease === undefined) return;
    try {
      await this.http.v3("/lease/revoke", { ID: lease });
    } catch (e) {
      if (!isLeaseNotFound(e)) throw e;
    }
  }

  private async rawPut(key: string, value: string, lease?: string): Promise<void> {
    await this.http.v3("/kv/put", { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
  }

  /** Replaces a lost lease; true when this call started the grant (whose re-write saw every held key). */
  private async replaceLease(lost: string, why: string): Promise<boolean> {
    const mine = this.lease === lost;
    if (mine) {
      this.lease = undefined;
      this.log.warn(`etcd: lease ${lost} lost (${why}); granting a new one and re-writing ${this.held.size} keys`);
    }
    await this.currentLease();
    return mine;
  }

  private currentLease(): Promise<string> {
    if (this.lease !== undefined) return Promise.resolve(this.lease);
    this.granting ??= (async () => {
      try {
        const r = await this.http.v3<{ ID?: string | number; TTL?: string | number }>("/lease/grant", { TTL: this.ttl });
        if (r.ID === undefined) throw new EtcdError("lease grant answered without an ID", 200);
        const id = String(r.ID);
        this.log.debug("etcd: lease granted", { lease: id, ttl: Number(r.TTL ?? this.ttl) });
        // Attach every held key to the new lease before anyone else uses it. If this fails the
        // lease is abandoned (it expires) and the next call grants again and re-writes again.
        await eachLimit([...this.held], 8, async ([k, v]) => {
          if (this.held.get(k) === v) await this.rawPut(k, v, id);
        });
        this.lease = id;
        return id;
      } finally {
        this.granting = undefined;
      }
    })();
    return this.granting;
  }
}

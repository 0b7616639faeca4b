import type { Service, ServiceRef } from "../types.ts";

/**
 * One service ID that may be present in a registry because of us. It is forgotten only after a
 * delete of it succeeded: a write that failed or is in flight may still have landed.
 */
export interface Entry {
  /** The content last sent for this ID. */
  service: Service;
  /** The container that wants (or wanted) it. */
  owner: string;
  /**
   * The last write of `service` completed, so the registry holds its content; false while
   * unknown (in flight, failed, lost).
   */
  written: boolean;
  /** Registered with a Docker health mirror check; `mirrorState`: the status and output it last got. */
  mirrored: boolean;
  mirrorState: string | undefined;
  /** In maintenance (stop-drain) as far as we know; lifted once the container is back in traffic. */
  inMaintenance: boolean;
  /** Writes of this ID in flight. */
  writing: number;
  /** The clock when the last write of this ID completed (see `EntryTable.stamp`). */
  completedAt: number;
  /** Earlier refs of this ID at another backend key (renamed, new address), still to delete; replaced, never changed in place. */
  stale: readonly ServiceRef[];
}

/** The `stale` of nearly every entry: one shared empty list rather than one per entry. */
export const NO_REFS: readonly ServiceRef[] = Object.freeze([]);

/**
 * Everything but provenance (origin, and `why`, which is display only: a rule's text changing is
 * no reason to write the same entry again) and the health mirror (set apart, with setHealth), as
 * JSON: computed when compared rather than held, which would cost each service its own string.
 */
function contentJson(s: Service): string {
  const { origin: _origin, why: _why, mirror: _mirror, ...rest } = s;
  return JSON.stringify(rest);
}

/** Whether two services need no registration between them: equal in everything but origin, why and mirror. */
export function sameContent(a: Service, b: Service): boolean {
  return a === b || contentJson(a) === contentJson(b);
}

/** A mirror's status and output as one comparable value. */
export const mirrorKey = (m: Service["mirror"]) => (m ? `${m.status}\0${m.output}` : undefined);

export const short = (id: string) => id.slice(0, 12);

function sameRef(a: ServiceRef, b: ServiceRef): boolean {
  return a.name === b.name && a.ip === b.ip && a.port === b.port && a.protocol === b.protocol;
}

/**
 * One registry's entries (what this host may have there, and which container owns each) and a
 * clock that orders write completions against listing requests. Only its Writer holds one.
 */
export class EntryTable {
  private readonly entries = new Map<string, Entry>();
  /** Service IDs each container has entries for: most containers have one, held as itself; more in a set. */
  private readonly owned = new Map<string, string | Set<string>>();
  /** Orders write completions and listing requests: a listing only speaks for writes done before it. */
  private clock = 0;

  get(id: string): Entry | undefined {
    return this.entries.get(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  values(): IterableIterator<Entry> {
    return this.entries.values();
  }

  /** The containers that own entries. */
  owners(): Set<string> {
    return new Set(this.owned.keys());
  }

  /** A point on the clock: writes completed after it have a later completedAt. */
  stamp(): number {
    return ++this.clock;
  }

  /** A write of `e` ended (either way). */
  completed(e: Entry): void {
    e.writing--;
    e.completedAt = ++this.clock;
  }

  /**
   * The entries `owner` has that are not in `keep`, for deregistration; IDs another container
   * took over since are forgotten for it.
   */
  leftOver(owner: string, keep: Set<string>): Entry[] {
    const out: Entry[] = [];
    const mine = this.owned.get(owner);
    for (const sid of mine === undefined ? [] : typeof mine === "string" ? [mine] : [...mine]) {
      if (keep.has(sid)) continue;
      const e = this.entries.get(sid);
      if (e?.owner === owner) out.push(e);
      else this.disown(owner, sid);
    }
    return out;
  }

  /** The entry of a write about to be sent: from now on the ID may be present in the registry. */
  claim(service: Service, owner: string): Entry {
    let e = this.entries.get(service.id);
    if (!e) {
      e = { service, owner, written: false, mirrored: false, mirrorState: undefined, inMaintenance: false, writing: 0, completedAt: 0, stale: NO_REFS };
      this.entries.set(service.id, e);
    } else {
      if (e.owner !== owner) this.disown(e.owner, service.id);
      // A changed name/address lives at another key in most backends: the old one goes first.
      if (!sameRef(e.service, service) && !e.stale.some((r) => sameRef(r, e!.service))) e.stale = [...e.stale, e.service];
      e.service = service;
      e.owner = owner;
      e.written = false;
    }
    this.own(owner, service.id);
    e.writing++;
    return e;
  }

  /** Forget `e` after its delete succeeded, unless a write claimed it meanwhile. */
  forget(e: Entry, deleted: Service): void {
    if (this.entries.get(deleted.id) === e && e.service === deleted && e.writing === 1) {
      this.entries.delete(deleted.id);
      this.disown(e.owner, deleted.id);
    }
  }

  private own(owner: string, id: string): void {
    const mine = this.owned.get(owner);
    if (mine === undefined) this.owned.set(owner, id);
    else if (typeof mine !== "string") mine.add(id);
    else if (mine !== id) this.owned.set(owner, new Set([mine, id]));
  }

  private disown(owner: string, id: string): void {
    const mine = this.owned.get(owner);
    if (mine === undefined) return;
    if (typeof mine === "string") {
      if (mine === id) this.owned.delete(owner);
    } else if (mine.delete(id) && mine.size === 0) {
      this.owned.delete(owner);
    }
  }
}

// The emulated agent's memory: local services and checks (which a -dev agent also holds in its
// catalog), the KV store, Raft-like indexes for blocking queries, TTL timers and the reaper
// for DeregisterCriticalServiceAfter. Everything here is forgotten on restart, like `consul agent -dev`.

import type { CheckDef } from "./schemas.ts";

export type CheckStatus = "passing" | "warning" | "critical";

export interface ServiceAddress {
  Address: string;
  Port: number;
}

export interface ServiceRecord {
  Kind: string;
  ID: string;
  Service: string;
  Tags: string[] | null;
  Address: string;
  TaggedAddresses: Record<string, ServiceAddress>;
  Meta: Record<string, string> | null;
  Port: number;
  SocketPath: string;
  Weights: { Passing: number; Warning: number };
  EnableTagOverride: boolean;
  Locality?: { Region?: string; Zone?: string };
  Proxy?: unknown;
  Connect?: unknown;
  CreateIndex: number;
  ModifyIndex: number;
}

export interface CheckRecord {
  Node: string;
  CheckID: string;
  Name: string;
  Status: string;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[] | null;
  Type: string;
  Interval: string;
  Timeout: string;
  CreateIndex: number;
  ModifyIndex: number;
  /** The definition it was registered with (durations in ns). */
  def: CheckDef;
  /** When the check last turned critical (ms since epoch), for the reaper. */
  criticalSince?: number;
  /** DeregisterCriticalServiceAfter after applying the agent's minimum, in ms. */
  reapAfterMs?: number;
  /** Output size limit for TTL updates (bytes). */
  outputMaxSize: number;
  /** The output of the last TTL update, quoted when the TTL expires. */
  lastOutput: string;
  ttlTimer?: ReturnType<typeof setTimeout>;
}

export interface KvEntry {
  Key: string;
  Flags: bigint;
  Value: Uint8Array | null;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
}

export interface StateOptions {
  nodeName: string;
  reapMinimumMs: number;
  reapIntervalMs: number;
}

/** Raft index right after a -dev agent has bootstrapped and registered the "consul" service. */
export const BOOT_INDEX = 12;

export class ConsulState {
  services = new Map<string, ServiceRecord>();
  checks = new Map<string, CheckRecord>();
  kv = new Map<string, KvEntry>();
  /** Highest Raft index used so far. */
  index = BOOT_INDEX;
  /** Index of the services table (catalog/services). */
  servicesIndex = BOOT_INDEX;
  /** Per service name: last change of any instance or its checks (catalog/service, health/service). */
  serviceIndex = new Map<string, number>([["consul", BOOT_INDEX]]);
  /** Last time a service name lost its last instance; answers queries for names that do not exist. */
  extinctionIndex = 0;
  /** Index of the KV table, tombstones included. */
  kvIndex = 0;
  /** Bumped by restart() so that waiting requests of the previous life give up. */
  generation = 0;
  private listeners = new Set<() => void>();
  private reaper?: ReturnType<typeof setInterval>;

  constructor(readonly opts: StateOptions) {}

  start(): void {
    this.reaper = setInterval(() => this.reap(), this.opts.reapIntervalMs);
    this.reaper.unref?.();
  }

  /** Forgets everything, as a restarted -dev agent does, and wakes every waiting request. */
  reset(): void {
    for (const c of this.checks.values()) clearTimeout(c.ttlTimer);
    this.services.clear();
    this.checks.clear();
    this.kv.clear();
    this.index = BOOT_INDEX;
    this.servicesIndex = BOOT_INDEX;
    this.serviceIndex = new Map([["consul", BOOT_INDEX]]);
    this.extinctionIndex = 0;
    this.kvIndex = 0;
    this.generation++;
    this.notify();
  }

  stop(): void {
    clearInterval(this.reaper);
    for (const c of this.checks.values()) clearTimeout(c.ttlTimer);
    this.generation++;
    this.notify();
  }

  /** Calls fn after every change; returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  notify(): void {
    for (const fn of [...this.listeners]) fn();
  }

  nextIndex(): number {
    return ++this.index;
  }

  /** The index reported for queries about one service name. */
  indexForService(name: string): number {
    const idx = this.serviceIndex.get(name);
    if (idx !== undefined) return idx;
    return this.extinctionIndex > 0 ? this.extinctionIndex : this.servicesIndex;
  }

  instancesOf(name: string): ServiceRecord[] {
    return [...this.services.values()].filter((s) => s.Service === name);
  }

  /** Records a change touching service `name` (and the services table when `table`). */
  touchService(name: string, idx: number, table: boolean): void {
    if (table) this.servicesIndex = idx;
    if (name === "consul" || this.instancesOf(name).length > 0) {
      this.serviceIndex.set(name, idx);
    } else if (this.serviceIndex.delete(name)) {
      this.extinctionIndex = idx;
    }
  }

  checksOf(serviceId: string): CheckRecord[] {
    return [...this.checks.values()].filter((c) => c.ServiceID === serviceId);
  }

  removeCheck(id: string): void {
    const c = this.checks.get(id);
    if (!c) return;
    clearTimeout(c.ttlTimer);
    this.checks.delete(id);
    const idx = this.nextIndex();
    const svc = this.services.get(c.ServiceID);
    if (svc) this.touchService(svc.Service, idx, false);
    this.notify();
  }

  removeService(id: string): boolean {
    const svc = this.services.get(id);
    if (!svc) return false;
    for (const c of this.checksOf(id)) {
      clearTimeout(c.ttlTimer);
      this.checks.delete(c.CheckID);
    }
    this.services.delete(id);
    this.touchService(svc.Service, this.nextIndex(), true);
    this.notify();
    return true;
  }

  /** Sets a check's status and output; the catalog (and its indexes) only sees status changes. */
  updateCheck(c: CheckRecord, status: string, output: string): void {
    if (c.Status === status && c.Output === output) return;
    const statusChanged = c.Status !== status;
    if (status === "critical") c.criticalSince ??= Date.now();
    else c.criticalSince = undefined;
    c.Status = status;
    c.Output = output;
    if (!statusChanged) return;
    const idx = this.nextIndex();
    c.ModifyIndex = idx;
    const svc = this.services.get(c.ServiceID);
    if (svc) this.touchService(svc.Service, idx, false);
    this.notify();
  }

  /** (Re)starts a TTL check's timer: without an update within the TTL it turns critical. */
  armTtl(c: CheckRecord): void {
    clearTimeout(c.ttlTimer);
    const ttlMs = Number(c.def.TTL / 1_000_000n);
    c.ttlTimer = setTimeout(() => {
      if (this.checks.get(c.CheckID) !== c) return;
      const expired = c.lastOutput === "" ? "TTL expired" : `TTL expired (last output before timeout follows): ${c.lastOutput}`;
      this.updateCheck(c, "critical", expired);
    }, Math.max(ttlMs, 1));
    c.ttlTimer.unref?.();
  }

  /** Deregisters services whose check has been critical longer than its DeregisterCriticalServiceAfter. */
  reap(now = Date.now()): void {
    const reaped = new Set<string>();
    for (const c of [...this.checks.values()]) {
      if (!c.ServiceID || reaped.has(c.ServiceID) || c.reapAfterMs === undefined) continue;
      if (c.Status === "critical" && c.criticalSince !== undefined && now - c.criticalSince > c.reapAfterMs) {
        reaped.add(c.ServiceID);
        this.removeService(c.ServiceID);
      }
    }
  }

  putKv(key: string, value: Uint8Array | null, flags: bigint): void {
    const idx = this.nextIndex();
    const old = this.kv.get(key);
    this.kv.set(key, { Key: key, Flags: flags, Value: value, LockIndex: 0, CreateIndex: old?.CreateIndex ?? idx, ModifyIndex: idx });
    this.kvIndex = idx;
    this.notify();
  }

  deleteKv(keys: string[]): void {
    const deleted = keys.filter((k) => this.kv.delete(k));
    if (deleted.length === 0) return;
    // Consul keeps a tombstone, so a delete advances the KV index that blocking reads see.
    this.kvIndex = this.nextIndex();
    this.notify();
  }
}

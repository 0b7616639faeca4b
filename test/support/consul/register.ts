// PUT /v1/agent/service/register[?replace-existing-checks] (protocols.md 2.2–2.4), in the
// agent's order: decode, name, address, token, weights, meta, checks, statuses, ACL, then add
// (tagged addresses and script checks fail there, as plain errors → 500).

import type { Acl } from "./acl.ts";
import { formatGoDuration } from "./goduration.ts";
import { GoDecodeError, decodeGoBody } from "./godecode.ts";
import { type Ctx, HttpError, bodyText, emptyResponse, query } from "./http.ts";
import { type CheckDef, type ServiceDef, ServiceDefinitionSchema, isEmptyCheck, zeroCheck } from "./schemas.ts";
import type { CheckRecord, ConsulState, ServiceRecord } from "./state.ts";
import {
  VALID_STATUSES,
  checkError,
  checkKind,
  isAnyAddress,
  isIPv4,
  isIPv6,
  isScript,
  metaError,
  taggedAddressError,
  weightsError,
} from "./validate.ts";

export interface AgentConfig {
  state: ConsulState;
  acl: Acl;
  nodeName: string;
  enableScriptChecks: boolean;
  reapMinimumMs: number;
}

const DEFAULT_OUTPUT_MAX = 4096;

export const SCRIPTS_DISABLED =
  "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true";

function decode(c: Ctx): ServiceDef {
  try {
    return decodeGoBody<ServiceDef>(ServiceDefinitionSchema, bodyText(c));
  } catch (e) {
    if (e instanceof GoDecodeError) throw new HttpError(400, `Request decode failed: ${e.message}`);
    throw e;
  }
}

/** The check definitions the agent will add: Check (unless empty), then every Checks entry. */
function checkTypes(def: ServiceDef): CheckDef[] {
  const list: CheckDef[] = [];
  if (def.Check && !isEmptyCheck(def.Check)) list.push(def.Check);
  // A null entry would crash the Go agent; here it is the zero check, which fails validation.
  for (const c of def.Checks ?? []) list.push(c ?? zeroCheck());
  return list;
}

export async function registerService(cfg: AgentConfig, c: Ctx): Promise<Response> {
  const def = decode(c);
  if (def.Name === "") throw new HttpError(400, "Missing service name");
  if (isAnyAddress(def.Address)) throw new HttpError(400, "Invalid service address");
  const caller = cfg.acl.resolve(c);
  if (def.Weights) {
    const err = weightsError(def.Weights);
    if (err) throw new HttpError(400, `Invalid Weights: ${err}`);
  }
  const metaErr = metaError(def.Meta);
  if (metaErr) throw new HttpError(400, `Invalid Service Meta: ${metaErr}`);
  const checks = checkTypes(def);
  for (const chk of checks) {
    const err = checkError(chk);
    if (err) throw new HttpError(400, `Invalid check: ${err}`);
  }
  if (checks.some((chk) => chk.Status !== "" && !VALID_STATUSES.includes(chk.Status))) {
    throw new HttpError(400, "Status for checks must 'passing', 'warning', 'critical'");
  }
  cfg.acl.require(caller, "service", "write", def.Name);
  const taggedErr = taggedAddressError(def);
  if (taggedErr) throw new HttpError(500, taggedErr);
  if (!cfg.enableScriptChecks && checks.some(isScript)) throw new HttpError(500, SCRIPTS_DISABLED);

  const q = query(c);
  const replace = q.has("replace-existing-checks") && ["", "true"].includes(q.get("replace-existing-checks") ?? "");
  addService(cfg, def, checks, replace);
  return emptyResponse();
}

function serviceRecord(def: ServiceDef): ServiceRecord {
  const tagged: Record<string, { Address: string; Port: number }> = {};
  for (const [k, v] of Object.entries(def.TaggedAddresses ?? {})) tagged[k] = { Address: v.Address ?? "", Port: v.Port ?? 0 };
  // The agent adds lan/wan tagged addresses for an IP address unless they were given.
  const family = isIPv4(def.Address) ? "ipv4" : isIPv6(def.Address) ? "ipv6" : undefined;
  if (family) {
    for (const k of [`lan_${family}`, `wan_${family}`]) tagged[k] ??= { Address: def.Address, Port: def.Port };
  }
  const w = def.Weights;
  return {
    Kind: def.Kind,
    ID: def.ID || def.Name,
    Service: def.Name,
    Tags: def.Tags ?? null,
    Address: def.Address,
    TaggedAddresses: tagged,
    Meta: def.Meta ?? null,
    Port: def.Port,
    SocketPath: def.SocketPath,
    Weights: w ? { Passing: w.Passing ?? 0, Warning: w.Warning ?? 0 } : { Passing: 1, Warning: 1 },
    EnableTagOverride: def.EnableTagOverride,
    ...(def.Locality ? { Locality: def.Locality } : {}),
    ...(def.Proxy !== undefined ? { Proxy: def.Proxy } : {}),
    ...(def.Connect !== undefined ? { Connect: def.Connect } : {}),
    CreateIndex: 0,
    ModifyIndex: 0,
  };
}

const sameRecord = (a: object, b: object) => JSON.stringify(comparable(a)) === JSON.stringify(comparable(b));

function comparable(r: object): object {
  const copy: Record<string, unknown> = { ...r };
  for (const k of ["CreateIndex", "ModifyIndex", "def", "criticalSince", "ttlTimer", "lastOutput", "reapAfterMs", "outputMaxSize"]) delete copy[k];
  copy.def = "def" in r ? JSON.stringify((r as CheckRecord).def, (_, v) => (typeof v === "bigint" ? v.toString() : v)) : undefined;
  return copy;
}

function checkRecord(cfg: AgentConfig, svc: ServiceRecord, chk: CheckDef, id: string): CheckRecord {
  const previous = cfg.state.checks.get(id);
  // Re-registering keeps the status and output an existing check ID already had.
  const status = previous?.Status ?? (chk.Status || "critical");
  const maxOut = chk.OutputMaxSize > 0 && chk.OutputMaxSize < DEFAULT_OUTPUT_MAX ? chk.OutputMaxSize : DEFAULT_OUTPUT_MAX;
  const reapNs = chk.DeregisterCriticalServiceAfter;
  return {
    Node: cfg.nodeName,
    CheckID: id,
    Name: chk.Name || `Service '${svc.Service}' check`,
    Status: status,
    Notes: chk.Notes,
    Output: previous?.Output ?? "",
    ServiceID: svc.ID,
    ServiceName: svc.Service,
    ServiceTags: svc.Tags,
    Type: checkKind(chk),
    Interval: chk.Interval !== 0n ? formatGoDuration(chk.Interval) : "",
    Timeout: chk.Timeout !== 0n ? formatGoDuration(chk.Timeout) : "",
    CreateIndex: previous?.CreateIndex ?? 0,
    ModifyIndex: previous?.ModifyIndex ?? 0,
    def: chk,
    ...(status === "critical" ? { criticalSince: previous?.criticalSince ?? Date.now() } : {}),
    ...(reapNs > 0n ? { reapAfterMs: Math.max(Number(reapNs / 1_000_000n), cfg.reapMinimumMs) } : {}),
    outputMaxSize: maxOut,
    lastOutput: previous?.lastOutput ?? "",
  };
}

function addService(cfg: AgentConfig, def: ServiceDef, checks: CheckDef[], replace: boolean): void {
  const { state } = cfg;
  const next = serviceRecord(def);
  const old = state.services.get(next.ID);
  if (old && sameRecord(old, next)) {
    next.CreateIndex = old.CreateIndex;
    next.ModifyIndex = old.ModifyIndex;
    state.services.set(next.ID, next);
  } else {
    const idx = state.nextIndex();
    next.CreateIndex = old?.CreateIndex ?? idx;
    next.ModifyIndex = idx;
    state.services.set(next.ID, next);
    state.touchService(next.Service, idx, true);
    if (old && old.Service !== next.Service) state.touchService(old.Service, idx, true);
  }

  const keep = new Set<string>();
  checks.forEach((chk, i) => {
    const id = chk.CheckID || `service:${next.ID}${checks.length > 1 ? `:${i + 1}` : ""}`;
    keep.add(id);
    const previous = state.checks.get(id);
    if (previous) clearTimeout(previous.ttlTimer);
    const rec = checkRecord(cfg, next, chk, id);
    if (!previous || !sameRecord(previous, rec)) {
      const idx = state.nextIndex();
      rec.CreateIndex = previous?.CreateIndex ?? idx;
      rec.ModifyIndex = idx;
      state.touchService(next.Service, idx, false);
    }
    state.checks.set(id, rec);
    if (chk.TTL > 0n) state.armTtl(rec);
  });
  if (replace) {
    for (const chk of state.checksOf(next.ID)) if (!keep.has(chk.CheckID)) state.removeCheck(chk.CheckID);
  }
  state.notify();
}

// Compares a JSON answer with Consul's golden shapes (this folder, sources in README.md):
//   structProblems: against the Go struct the agent marshals (field names, order, types, and
//                   omitempty: a field Go leaves out when empty must not be sent empty);
//   docProblems:    against a documented sample response (every documented field is there,
//                   with the same JSON type).
// Both return a list of problems, empty when the answer matches, so a failing test names them all.
// Used by the emulator's tests and by the embedded registry's: each is held to Consul, not to the other.

import agentServicesDoc from "./docs-agent-services.json" with { type: "json" };
import catalogNodesDoc from "./docs-catalog-nodes.json" with { type: "json" };
import catalogServiceDoc from "./docs-catalog-service.json" with { type: "json" };
import catalogServicesDoc from "./docs-catalog-services.json" with { type: "json" };
import healthServiceDoc from "./docs-health-service.json" with { type: "json" };
import structsGolden from "./structs.json" with { type: "json" };

type Field = [name: string, goType: string, omitempty: boolean];

const STRUCTS = structsGolden.structs as unknown as Record<string, { fields: Field[] }>;
const OPAQUE = new Set(structsGolden.opaque.types);

export type StructName = keyof typeof structsGolden.structs;

export const DOCS = {
  agentServices: agentServicesDoc.response,
  catalogNodes: catalogNodesDoc.response,
  catalogService: catalogServiceDoc.response,
  catalogServices: catalogServicesDoc.response,
  healthService: healthServiceDoc.response,
};

export const DEFAULTS = {
  weights: structsGolden.defaults.ServiceWeights.value,
  serfHealth: structsGolden.defaults.serfHealth.value,
  consulService: structsGolden.defaults.consulService.value,
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** encoding/json's "empty" for omitempty: false, 0, "", nil, and empty maps and slices. */
function goEmpty(v: unknown): boolean {
  if (v === null || v === false || v === 0 || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  return false;
}

function typeProblems(v: unknown, goType: string, at: string): string[] {
  if (goType.startsWith("*")) return v === null ? [] : typeProblems(v, goType.slice(1), at);
  switch (goType) {
    case "string":
      return typeof v === "string" ? [] : [`${at}: ${JSON.stringify(v)} is not a string`];
    case "bool":
      return typeof v === "boolean" ? [] : [`${at}: ${JSON.stringify(v)} is not a boolean`];
    case "int":
      return Number.isInteger(v) ? [] : [`${at}: ${JSON.stringify(v)} is not an integer`];
    case "uint64":
      return Number.isInteger(v) && (v as number) >= 0 ? [] : [`${at}: ${JSON.stringify(v)} is not an unsigned integer`];
    case "[]string":
      if (v === null) return [];
      return Array.isArray(v) && v.every((x) => typeof x === "string") ? [] : [`${at}: ${JSON.stringify(v)} is not a list of strings`];
  }
  const map = /^map\[string\](.+)$/.exec(goType);
  if (map) {
    if (v === null) return [];
    if (!isObject(v)) return [`${at}: ${JSON.stringify(v)} is not an object`];
    return Object.entries(v).flatMap(([k, x]) => typeProblems(x, map[1]!, `${at}.${k}`));
  }
  if (goType in STRUCTS) return structProblems(v, goType as StructName, at);
  if (OPAQUE.has(goType)) return isObject(v) ? [] : [`${at}: ${JSON.stringify(v)} is not an object (${goType})`];
  return [`${at}: the golden has no rule for Go type ${goType}`];
}

/** Problems of `v` as the JSON of the Go struct `name`; [] when it matches. */
export function structProblems(v: unknown, name: StructName, at: string = name): string[] {
  if (!isObject(v)) return [`${at}: ${JSON.stringify(v)} is not an object (${name})`];
  const fields = STRUCTS[name]!.fields;
  const order = new Map(fields.map(([f], i) => [f, i]));
  const out: string[] = [];
  let last = -1;
  for (const key of Object.keys(v)) {
    const i = order.get(key);
    if (i === undefined) {
      out.push(`${at}.${key}: not a field of ${name}`);
      continue;
    }
    if (i < last) out.push(`${at}.${key}: out of Go's field order (${fields.map(([f]) => f).join(", ")})`);
    last = Math.max(last, i);
  }
  for (const [field, goType, omitempty] of fields) {
    const present = Object.hasOwn(v, field);
    if (!present) {
      if (!omitempty) out.push(`${at}.${field}: missing (${name} always has it)`);
      continue;
    }
    if (omitempty && goEmpty(v[field])) out.push(`${at}.${field}: sent empty (${JSON.stringify(v[field])}), but it is omitempty`);
    out.push(...typeProblems(v[field], goType, `${at}.${field}`));
  }
  return out;
}

const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/**
 * Fields of the documented samples whose contents are not compared, only their presence and type:
 * maps keyed by data (Meta, TaggedAddresses…) and connect settings whose documented content is
 * from older Consul releases. The samples' service TaggedAddresses spell "address"/"port" in lower
 * case, which structs.ServiceAddress (no json tags) never sends: structs.json governs those.
 */
const SHALLOW = new Set(["Meta", "NodeMeta", "ServiceMeta", "TaggedAddresses", "ServiceTaggedAddresses", "ServiceProxy", "ServiceConnect"]);

/** Consul Enterprise fields of the samples (namespaces); Consul CE does not send them. */
const ENTERPRISE = new Set(["Namespace", "Partition"]);

/**
 * Problems of `ours` against a documented sample: each documented field present with the same
 * JSON type (null in the sample accepts a list or an object). Each documented element of a list
 * of objects is compared with ours' first one; objects field by field.
 */
export function docProblems(ours: unknown, doc: unknown, at = "$"): string[] {
  if (Array.isArray(doc)) {
    if (!Array.isArray(ours)) return [`${at}: ${kind(ours)} where the docs show a list`];
    if (doc.length === 0) return [];
    // A list of values (tags): each of ours has the documented type; it may well be empty.
    if (!isObject(doc[0])) return ours.flatMap((o, i) => docProblems(o, doc[0], `${at}[${i}]`));
    // A list of objects: ours must have one to compare with each documented element.
    if (ours.length === 0) return [`${at}: empty, so nothing to hold to the docs' sample`];
    return doc.flatMap((d, i) => docProblems(ours[0], d, `${at}[${i}]`));
  }
  if (isObject(doc)) {
    if (!isObject(ours)) return [`${at}: ${kind(ours)} where the docs show an object`];
    const out: string[] = [];
    for (const [key, d] of Object.entries(doc)) {
      if (ENTERPRISE.has(key)) continue;
      if (!Object.hasOwn(ours, key)) {
        out.push(`${at}.${key}: in the docs' sample, missing here`);
        continue;
      }
      const o = ours[key];
      if (d === null ? !(o === null || typeof o === "object") : kind(o) !== kind(d)) {
        out.push(`${at}.${key}: ${kind(o)} where the docs show ${kind(d)}`);
      } else if (!SHALLOW.has(key) && typeof d === "object" && d !== null) {
        out.push(...docProblems(o, d, `${at}.${key}`));
      }
    }
    return out;
  }
  return kind(ours) === kind(doc) ? [] : [`${at}: ${kind(ours)} where the docs show ${kind(doc)}`];
}

/**
 * What each tested answer is held to, for both the emulator's and the embedded registry's tests
 * (each of them asks its own server; the rule for an endpoint's answer is written once here).
 */

/** `/v1/catalog/service/<name>`: each entry a structs.ServiceNode, the list like the documented sample. */
export function catalogServiceProblems(list: unknown[]): string[] {
  return [...list.flatMap((e, i) => structProblems(e, "ServiceNode", `[${i}]`)), ...docProblems(list, DOCS.catalogService)];
}

/** `/v1/health/service/<name>`: each entry Node, Service, Checks (in that order) by their structs, the list like the documented sample. */
export function healthServiceProblems(list: unknown[]): string[] {
  const each = list.flatMap((e, i) => {
    if (!isObject(e)) return [`[${i}]: ${JSON.stringify(e)} is not an object (CheckServiceNode)`];
    const keys = Object.keys(e).join(", ");
    const checks = Array.isArray(e.Checks) ? e.Checks : [];
    return [
      ...(keys === "Node, Service, Checks" ? [] : [`[${i}]: fields ${keys}, where Consul sends Node, Service, Checks`]),
      ...structProblems(e.Node, "Node", `[${i}].Node`),
      ...structProblems(e.Service, "NodeService", `[${i}].Service`),
      ...(Array.isArray(e.Checks) ? [] : [`[${i}].Checks: ${JSON.stringify(e.Checks)} is not a list`]),
      ...checks.flatMap((c, j) => structProblems(c, "HealthCheck", `[${i}].Checks[${j}]`)),
    ];
  });
  return [...each, ...docProblems(list, DOCS.healthService)];
}

/** `/v1/agent/services`: each value an api.AgentService; the one under `sampleId` like the documented sample. */
export function agentServicesProblems(all: Record<string, unknown>, sampleId: string): string[] {
  return [...Object.entries(all).flatMap(([id, s]) => structProblems(s, "AgentService", id)), ...docProblems(all[sampleId], DOCS.agentServices.redis)];
}

/** `/v1/agent/checks`: each value a structs.HealthCheck. */
export function agentChecksProblems(all: Record<string, unknown>): string[] {
  return Object.entries(all).flatMap(([id, c]) => structProblems(c, "HealthCheck", id));
}

/** `/v1/catalog/services`: each name maps to a list of tags (strings), as documented. */
export function catalogServicesProblems(all: Record<string, unknown>): string[] {
  return Object.entries(all).flatMap(([name, tags]) =>
    Array.isArray(tags) && tags.every((t) => typeof t === "string") ? [] : [`${name}: ${JSON.stringify(tags)} is not a list of tags`],
  );
}

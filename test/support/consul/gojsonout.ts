// JSON output the way Go's encoding/json writes it: <, >, & and U+2028/9 escaped inside
// strings, bigint written as exact digits (uint64 KV flags), `?pretty` as 4-space indent + "\n".
// Map-typed fields should be built with sortedMap() because Go sorts map keys.

function encodeString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function encode(v: unknown, indent: string, depth: number): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") return encodeString(v);
  const nl = indent ? `\n${indent.repeat(depth + 1)}` : "";
  const end = indent ? `\n${indent.repeat(depth)}` : "";
  const sep = indent ? ": " : ":";
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return `[${v.map((x) => nl + encode(x, indent, depth + 1)).join(",")}${end}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return "{}";
  return `{${entries.map(([k, x]) => nl + encodeString(k) + sep + encode(x, indent, depth + 1)).join(",")}${end}}`;
}

/** Serialises like Go's json.Marshal (or MarshalIndent with 4 spaces plus a newline when pretty). */
export function goJson(v: unknown, pretty = false): string {
  return pretty ? `${encode(v, "    ", 0)}\n` : encode(v, "", 0);
}

/** A copy of a map with keys in Go's output order (sorted); own properties even for "__proto__". */
export function sortedMap<V>(m: Record<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const k of Object.keys(m).sort()) {
    Object.defineProperty(out, k, { value: m[k], enumerable: true, writable: true, configurable: true });
  }
  return out;
}

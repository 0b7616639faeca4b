// What the benches share: percentiles, the machine's load, /proc figures, NDJSON streams.
import { readFileSync } from "node:fs";
import { ndjsonLines } from "../src/docker/client.ts";

/** The p-th percentile (0–100) of xs, interpolated; NaN for none. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

/** The 1, 5 and 15 minute load averages. */
export const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** Newline-delimited JSON objects from a streaming response body. */
export async function* jsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<any> {
  for await (const line of ndjsonLines(body)) yield JSON.parse(line);
}

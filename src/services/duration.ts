// Go's time.ParseDuration, the one duration parser of registrator: every duration that is sent to
// Consul (check intervals, timeouts, TTLs, DeregisterCriticalServiceAfter) or read from a client
// (`?wait=`) goes through it, so a value it accepts is one the agent accepts too.
//
// A duration is an optional sign and one or more `<decimal><unit>` parts: `300ms`, `-1.5h`,
// `2h45m`, `.5s`, `1.s`. Units: ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h. A bare number is
// invalid except "0" (also "+0"/"-0"). Go's limits, computed exactly (BigInt) as Go does: an integer
// part above 2^63 is refused, each part and the running sum must stay within 2^63 ns, and the result
// within int64 (so "-2562047h47m16.854775808s" is valid and the same without "-" is not).

const UNITS = new Map<string, bigint>([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n],
  ["\u03bcs", 1_000n],
  ["ms", 1_000_000n],
  ["s", 1_000_000_000n],
  ["m", 60_000_000_000n],
  ["h", 3_600_000_000_000n],
]);
const LIMIT = 1n << 63n;
const PART = /^(\d*)(?:\.(\d*))?([^\d.]*)/;

/** Exact nanoseconds of a Go duration string, or undefined when Go's time.ParseDuration fails. */
export function parseGoDurationNs(input: string): bigint | undefined {
  let s = input;
  let neg = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") return undefined;
  let total = 0n;
  while (s !== "") {
    const m = PART.exec(s);
    if (!m) return undefined;
    const [whole, int = "", frac, unitText = ""] = m;
    if (int === "" && (frac === undefined || frac === "")) return undefined;
    const unit = UNITS.get(unitText);
    if (unit === undefined) return undefined;
    if (int.replace(/^0+/, "").length > 19) return undefined; // above 2^63 whatever the digits
    const v = BigInt(int === "" ? "0" : int);
    if (v > LIMIT || v > LIMIT / unit) return undefined;
    let part = v * unit;
    if (frac) {
      // Go keeps fraction digits while they fit and scales with float64; truncate like it does.
      let f = 0n;
      let scale = 1;
      for (const d of frac) {
        if (f > (LIMIT - 1n) / 10n) break;
        const next = f * 10n + BigInt(d);
        if (next > LIMIT) break;
        f = next;
        scale *= 10;
      }
      if (f > 0n) part += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (part > LIMIT) return undefined;
    }
    total += part;
    if (total > LIMIT) return undefined;
    s = s.slice(whole.length);
  }
  if (neg) return -total;
  return total > LIMIT - 1n ? undefined : total;
}

/** Nanoseconds of a Go duration string (as a float), or undefined when Go's time.ParseDuration would fail. */
export function parseGoDuration(input: string): number | undefined {
  const ns = parseGoDurationNs(input);
  return ns === undefined ? undefined : Number(ns);
}

/** True when `s` parses as a Go duration strictly greater than zero. */
export function isPositiveGoDuration(s: string): boolean {
  const ns = parseGoDurationNs(s);
  return ns !== undefined && ns > 0n;
}

// Go's time.ParseDuration syntax, so that values sent to Consul are ones it will accept.
//
// A duration is an optional sign and one or more `<decimal><unit>` parts: `300ms`, `-1.5h`,
// `2h45m`, `.5s`, `1.s`. Units: ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h. A bare number is
// invalid except "0" (also "+0"/"-0"). The total must fit in Go's int64 nanoseconds.

const UNITS = new Map<string, number>([
  ["ns", 1],
  ["us", 1e3],
  ["\u00b5s", 1e3],
  ["\u03bcs", 1e3],
  ["ms", 1e6],
  ["s", 1e9],
  ["m", 60e9],
  ["h", 3600e9],
]);
const MAX_NS = 9223372036854775807; // 2^63-1, as a float: a bound, not an exact value
const PART = /^(\d*)(?:\.(\d*))?([^\d.]+)/;

/** Nanoseconds of a Go duration string, or undefined when Go's time.ParseDuration would fail. */
export function parseGoDuration(input: string): number | undefined {
  let s = input;
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") return undefined;
  let total = 0;
  while (s !== "") {
    const m = PART.exec(s);
    if (!m) return undefined;
    const [whole, int = "", frac, unit = ""] = m;
    if (int === "" && (frac === undefined || frac === "")) return undefined;
    const factor = UNITS.get(unit);
    if (factor === undefined) return undefined;
    const value = Number(`${int === "" ? "0" : int}.${frac ?? ""}0`);
    total += value * factor;
    if (total > MAX_NS) return undefined;
    s = s.slice(whole.length);
  }
  return sign * total;
}

/** True when `s` parses as a Go duration strictly greater than zero. */
export function isPositiveGoDuration(s: string): boolean {
  const ns = parseGoDuration(s);
  return ns !== undefined && ns > 0;
}

// Go's time.ParseDuration and Duration.String, with Go's error texts
// (`time: missing unit in duration "10"`), in nanoseconds as bigint.

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "\u00b5s": 1_000n, // µ (micro sign)
  "\u03bcs": 1_000n, // μ (Greek mu)
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX = (1n << 63n) - 1n;

/** The time package's own quoting: ASCII kept (with \" and \\), everything else as \xNN bytes. */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code >= 0x80) {
      for (const b of new TextEncoder().encode(ch)) out += `\\x${b.toString(16).padStart(2, "0")}`;
    } else {
      out += ch === '"' || ch === "\\" ? `\\${ch}` : ch;
    }
  }
  return `${out}"`;
}

export class GoDurationError extends Error {}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

/** Parses a Go duration string ("1m30s", "-1.5h", "300ms") into nanoseconds; throws GoDurationError. */
export function parseGoDuration(orig: string): bigint {
  const invalid = () => new GoDurationError(`time: invalid duration ${goQuote(orig)}`);
  let s = orig;
  let neg = false;
  if (s[0] === "-" || s[0] === "+") {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") throw invalid();
  let total = 0n;
  while (s !== "") {
    if (!(s[0] === "." || isDigit(s[0]))) throw invalid();
    let i = 0;
    while (isDigit(s[i])) i++;
    const intPart = s.slice(0, i);
    s = s.slice(i);
    let frac = "";
    let sawFrac = false;
    if (s[0] === ".") {
      s = s.slice(1);
      let j = 0;
      while (isDigit(s[j])) j++;
      frac = s.slice(0, j);
      sawFrac = j > 0;
      s = s.slice(j);
    }
    if (intPart === "" && !sawFrac) throw invalid();
    let u = 0;
    while (u < s.length && s[u] !== "." && !isDigit(s[u])) u++;
    if (u === 0) throw new GoDurationError(`time: missing unit in duration ${goQuote(orig)}`);
    const unitName = s.slice(0, u);
    s = s.slice(u);
    const unit = UNITS[unitName];
    if (unit === undefined) {
      throw new GoDurationError(`time: unknown unit ${goQuote(unitName)} in duration ${goQuote(orig)}`);
    }
    const v = BigInt(intPart || "0");
    if (v > (1n << 63n) / unit) throw invalid();
    let part = v * unit;
    if (frac !== "") {
      // Go keeps at most the fraction digits that fit an int64 and scales with float64.
      const scale = 10 ** frac.length;
      part += BigInt(Math.floor(Number(frac) * (Number(unit) / scale)));
      if (part > 1n << 63n) throw invalid();
    }
    total += part;
    if (total > 1n << 63n) throw invalid();
  }
  if (neg) return -total;
  if (total > MAX) throw invalid();
  return total;
}

/** Writes v's last `prec` digits as a fraction without trailing zeros; returns [text, v / 10^prec]. */
function fraction(v: bigint, prec: number): [string, bigint] {
  let digits = "";
  let printed = false;
  for (let i = 0; i < prec; i++) {
    const d = v % 10n;
    printed ||= d !== 0n;
    if (printed) digits = d.toString() + digits;
    v /= 10n;
  }
  return [printed ? `.${digits}` : "", v];
}

/** Go's Duration.String: "0s", "1.5µs", "300ms", "10s", "1m30s", "1h0m0s". */
export function formatGoDuration(d: bigint): string {
  if (d === 0n) return "0s";
  const neg = d < 0n;
  let u = neg ? -d : d;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u < 1_000n) out = `${u}ns`;
    else if (u < 1_000_000n) {
      const [f, whole] = fraction(u, 3);
      out = `${whole}${f}\u00b5s`;
    } else {
      const [f, whole] = fraction(u, 6);
      out = `${whole}${f}ms`;
    }
  } else {
    const [f, secs] = fraction(u, 9);
    u = secs;
    out = `${u % 60n}${f}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

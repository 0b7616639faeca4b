// Safety of service names and IDs, DNS labels for SkyDNS, and -cleanup ownership.
//
// Names and IDs come from container metadata, which anyone who can start a container controls.
// Every backend turns them into key paths (`<prefix>/<name>/<id>`) or URL path segments
// (`/v1/agent/service/deregister/<id>`), so they must never be able to leave that segment.
//
// ACCEPTED: any non-empty string of at most 512 characters that
//   - is not `.` or `..` (a dot segment; `...` or `a..b` are fine: they are not segments),
//   - contains no `/` and no `\` (WHATWG URL parsing turns `\` into `/` for http URLs),
//   - contains no `%`, `?` or `#` (they change a URL path when a client forgets to escape it:
//     `%2e%2e` is a dot segment to URL parsers, `?`/`#` cut the path short),
//   - contains no control character (U+0000–U+001F, U+007F–U+009F), no line/paragraph
//     separator (U+2028, U+2029) and no lone UTF-16 surrogate.
// Everything else (letters of any script, digits, spaces, `:`, `.`, `-`, `_`, `@`, `+`, ...) is kept.

const MAX_LENGTH = 512;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LONE_SURROGATE = /\p{Cs}/u;

/** What `unsafeReason` accepts, for warnings ("what would be valid"). */
export const SAFE_IDENTITY_RULE =
  'a non-empty text of at most 512 characters without "/", "\\", "%", "?", "#" or control characters, other than "." and ".."';

/** Why `value` cannot be used as a service name or ID, or undefined when it is safe. */
export function unsafeReason(value: string): string | undefined {
  if (value === "") return "it is empty";
  if (value.length > MAX_LENGTH) return `it is longer than ${MAX_LENGTH} characters`;
  if (value === "." || value === "..") return `"${value}" is a dot path segment`;
  const control = CONTROL.exec(value);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).padStart(4, "0");
    return `it contains the control character U+${code.toUpperCase()}`;
  }
  // A lone UTF-16 surrogate (a JSON "\ud800" escape) has no UTF-8 form: keys, URLs and bodies would
  // each mangle it differently (or throw), so it never names anything.
  if (LONE_SURROGATE.test(value)) return "it contains a lone UTF-16 surrogate (not valid Unicode text)";
  for (const ch of ["/", "\\", "%", "?", "#"]) {
    if (value.includes(ch)) return `it contains "${ch}"`;
  }
  return undefined;
}

export function isSafeIdentity(value: string): boolean {
  return unsafeReason(value) === undefined;
}

/** FNV-1a, 32 bit, over the UTF-8 bytes of `s`: deterministic, synchronous, pure JS. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * A DNS label for SkyDNS/CoreDNS key segments (parity "SkyDNS records"): lower-cased, every
 * character outside `[a-z0-9-]` becomes `-`, runs of `-` collapse, leading/trailing `-` trimmed.
 * Longer than 63 characters → the first 54 (trailing `-` trimmed, so no `--` appears), `-`, and the
 * 8 hex digits of FNV-1a-32 of the ORIGINAL string. When nothing is left (e.g. `___`), the label is
 * those 8 hex digits alone. A valid label comes back unchanged.
 */
export function dnsLabel(s: string): string {
  const hash = fnv1a32(s).toString(16).padStart(8, "0");
  const label = s
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (label === "") return hash;
  if (label.length <= 63) return label;
  return `${label.slice(0, 54).replace(/-+$/, "")}-${hash}`;
}

/** registrator's -cleanup ownership pattern; group 1 is the hostname, group 2 the container name. */
export const OWNED_ID = /^(.+?):([a-zA-Z0-9][a-zA-Z0-9_.-]+):[0-9]+(?::udp)?$/;

/** True when `id` has the default ID form `<hostname>:<container>:<port>[:udp]` for this host. */
export function ownedByHost(id: string, hostname: string): boolean {
  const m = OWNED_ID.exec(id);
  return m !== null && m[1] === hostname;
}

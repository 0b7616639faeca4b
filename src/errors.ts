/** Bad configuration (flags, env, URI). main.ts turns it into one line on stderr and exit code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A failure talking to a service over HTTP, with the answer's status when there was one. */
abstract class StatusError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A registry could not be reached or refused a request. Never fatal after startup. */
export class RegistryError extends StatusError {
  override name = "RegistryError";
}

/** Docker could not be reached or answered unexpectedly. */
export class DockerError extends StatusError {
  override name = "DockerError";
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What a secret is replaced with, wherever registrator prints text. */
export const REDACTED = "[redacted]";

/**
 * The one redaction: `text` without the secrets that URLs and HTTP headers carry (the password of
 * `scheme://user:password@` (any scheme) and of a bare `user:password@host`, the value after
 * `Basic ` / `Bearer `) and without any of `known` (a token a client holds; four characters or
 * more). Applied to every startup error and log line, so a registry URI, CONSUL_HTTP_ADDR or
 * token is never echoed.
 */
export function redactSecrets(text: string, known: readonly string[] = []): string {
  // Longest first, so a user:password pair is replaced whole before its password part.
  for (const s of [...known].sort((a, b) => b.length - a.length)) if (s.length >= 4) text = text.split(s).join(REDACTED);
  if (!text.includes("@") && !/\b(?:Basic|Bearer)\s/i.test(text)) return text;
  return text
    .replace(/(^|[^A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s/?#@"'<>]*)@/g, (_, pre, scheme, info: string) => {
      const colon = info.indexOf(":");
      return `${pre}${scheme}${colon < 0 ? REDACTED : `${info.slice(0, colon)}:${REDACTED}`}@`;
    })
    .replace(/(^|[\s"'(=,])([^\s"'(=,/:@]+):([^\s"'/@]+)@(?=[^\s"'@])/g, (_, pre, user) => `${pre}${user}:${REDACTED}@`)
    .replace(/\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{4,}/gi, (_, kind) => `${kind} ${REDACTED}`);
}

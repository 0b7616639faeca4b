import { REDACTED, redactSecrets } from "./errors.ts";
import type { Logger } from "./types.ts";
import { writeLine } from "./runtime/output.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export const LOG_FORMATS = ["text", "json"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];
const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Keys whose values are never printed, whatever a caller passes. */
const SECRET = /token|password|passwd|secret|authorization|auth/i;

export interface LogOptions {
  level?: LogLevel;
  format?: LogFormat;
  write?: (line: string) => void;
  now?: () => Date;
}

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET.test(k) ? REDACTED : typeof v === "string" ? redactSecrets(v) : v;
  return out;
}

/**
 * Characters that could end or forge a log line, or drive a terminal: C0 controls, DEL, C1 controls,
 * and the Unicode line/paragraph separators. Container metadata reaches messages; none of it may
 * start a new line.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex
const HAS_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** `s` with every line-breaking or control character written as an escape (`\n`, `\x1b`, `\u2028`). */
export function escapeControl(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, "0")}` : `\\x${code.toString(16).padStart(2, "0")}`;
  });
}

function textValue(v: unknown): string {
  const s = typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
  // JSON.stringify escapes C0 controls but leaves DEL, C1 and U+2028/U+2029: escape those too.
  return /[\s"=\\]/.test(s) || HAS_UNSAFE.test(s) ? escapeControl(JSON.stringify(s)) : s;
}

/** One event per line on stderr: `2026-11-27T10:00:00Z info added: ... key=value` or JSON. */
export function createLogger(opts: LogOptions = {}): Logger {
  const min = order[opts.level ?? "info"];
  const format = opts.format ?? "text";
  const write = opts.write ?? ((line: string) => writeLine(2, line));
  const now = opts.now ?? (() => new Date());
  const emit = (level: LogLevel, rawMsg: string, fields?: Record<string, unknown>) => {
    if (order[level] < min) return;
    const f = fields ? redact(fields) : undefined;
    const msg = redactSecrets(String(rawMsg));
    const time = now().toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, level, msg, ...f }));
    } else {
      const extra = f ? Object.entries(f).map(([k, v]) => ` ${escapeControl(k).replace(/[\s=]/g, "_")}=${textValue(v)}`).join("") : "";
      write(`${time} ${level.padEnd(5)} ${escapeControl(msg)}${extra}`);
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(): Logger & { lines: Array<{ level: LogLevel; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: LogLevel; msg: string; fields?: Record<string, unknown> }> = [];
  const push = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
  return { lines, debug: push("debug"), info: push("info"), warn: push("warn"), error: push("error") };
}

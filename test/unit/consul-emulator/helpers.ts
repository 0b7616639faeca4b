// Small client helpers for the emulator's own tests.

import type { ConsulEmulator } from "../../support/consul/index.ts";

export interface Reply {
  status: number;
  text: string;
  headers: Headers;
  json<T = unknown>(): T;
}

export async function call(
  emu: ConsulEmulator,
  method: string,
  path: string,
  body?: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await emu.fetch(path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, json: <T>() => JSON.parse(text) as T };
}

export const register = (emu: ConsulEmulator, body: unknown, query = "", headers: Record<string, string> = {}) =>
  call(emu, "PUT", `/v1/agent/service/register${query}`, typeof body === "string" ? body : JSON.stringify(body), headers);

/** Polls `fn` until it returns true or the deadline passes (tests never sleep a fixed time to settle). */
export async function until(fn: () => boolean | Promise<boolean>, timeoutMs = 5000, stepMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Waits until a blocking request (one with ?index= or ?hash=) to `path` has reached the emulator and is still open. */
export function blockedAt(emu: ConsulEmulator, path: string): Promise<void> {
  return until(() => emu.requests.some((r) => r.path === path && /(^|&)(index|hash)=/.test(r.rawQuery) && r.status === 0));
}

/**
 * `p`, or an error after `ms`: for answers that must come long before the server's own timeout
 * (a blocking query that should wake now, under a 10-minute wait). A deadline, not a speed check.
 */
export async function before<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

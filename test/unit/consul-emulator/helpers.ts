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

// Builders shared by the adapter tests (unit and integration): a hand-built Service, an AdapterContext
// with a memory logger and a given env, and helpers that capture the error a call throws.

import { expect } from "bun:test";
import { ConfigError, RegistryError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log.ts";
import { runtime } from "../../src/runtime/index.ts";
import type { Runtime } from "../../src/runtime/types.ts";
import type { AdapterContext, RegistryAdapter, Service, ServiceOrigin } from "../../src/types.ts";

export interface ContextOptions {
  env?: Record<string, string>;
  ttl?: number;
  ttlRefresh?: number;
  allowScriptChecks?: boolean;
  /** The plain fetch; default the global one. */
  fetch?: typeof fetch;
  /** Default the real runtime (Bun's). */
  runtime?: Runtime;
}

/** An AdapterContext (host "host1") with a memory logger and the given env; real fetch and runtime unless given. */
export function adapterContext(o: ContextOptions = {}) {
  const log = memoryLogger();
  const ctx: AdapterContext = {
    fetch: o.fetch ?? globalThis.fetch,
    runtime: o.runtime ?? runtime(),
    log,
    env: (n) => o.env?.[n],
    hostname: "host1",
    ttl: o.ttl ?? 0,
    ttlRefresh: o.ttlRefresh ?? 0,
    allowScriptChecks: o.allowScriptChecks ?? false,
  };
  return { ctx, log };
}

/** Fields to change in `testService()`; `origin` is merged into the default origin. */
export type ServiceOverrides = Partial<Omit<Service, "origin">> & { origin?: Partial<ServiceOrigin> };

/** A hand-built Service as the bridge would pass it: "host1:web1:80", web at 10.0.0.2:8080 from container web1. */
export function testService(over: ServiceOverrides = {}): Service {
  const { origin, ...fields } = over;
  return {
    id: "host1:web1:80",
    name: "web",
    ip: "10.0.0.2",
    port: 8080,
    protocol: "tcp",
    tags: ["a", "b"],
    attrs: {},
    checks: [],
    enableTagOverride: false,
    ...fields,
    origin: { containerId: "c0ffee".padEnd(64, "0"), containerName: "web1", exposedPort: 80, hostPort: "8080", hostIp: "", ...origin },
  };
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/** What `p` rejects with (an instance of `type` when given); fails when `p` resolves. */
export async function rejection<E extends Error = Error>(p: Promise<unknown>, type?: ErrorClass<E>): Promise<E> {
  try {
    await p;
  } catch (e) {
    if (type) expect(e).toBeInstanceOf(type);
    return e as E;
  }
  throw new Error(type ? `expected a ${type.name}` : "expected a rejection");
}

/** The one-line ConfigError that `fn` throws; fails when it throws nothing. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).not.toContain("\n");
    return e as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

/** The adapter refuses both to register and to deregister `s` (a RegistryError each); the register error. */
export async function refusedBothWays(a: RegistryAdapter, s: Service): Promise<RegistryError> {
  const e = await rejection(a.register(s), RegistryError);
  await rejection(a.deregister(s), RegistryError);
  return e;
}

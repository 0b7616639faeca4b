import { ConfigError } from "../errors.ts";
import type { AdapterContext, AdapterFactory, RegistryAdapter } from "../types.ts";
import { LocalRegistry } from "./local.ts";
import { parseRegistryUri, redactUri } from "./uri.ts";

/** URI scheme → the module that builds its adapter (loaded on use; bundled by bun build). */
const SCHEMES: Record<string, () => Promise<AdapterFactory>> = {
  consul: async () => (await import("./consul.ts")).consulFactory,
  "consul-tls": async () => (await import("./consul.ts")).consulFactory,
  "consul-unix": async () => (await import("./consul.ts")).consulFactory,
  "consul-catalog": async () => (await import("./consul-catalog.ts")).consulCatalogFactory,
  consulkv: async () => (await import("./consulkv.ts")).consulKvFactory,
  "consulkv-unix": async () => (await import("./consulkv.ts")).consulKvFactory,
  etcd: async () => (await import("./etcd.ts")).etcdFactory,
  "etcd+https": async () => (await import("./etcd.ts")).etcdFactory,
  "etcd+http": async () => (await import("./etcd.ts")).etcdFactory,
  skydns2: async () => (await import("./skydns2.ts")).skydns2Factory,
  "skydns2+https": async () => (await import("./skydns2.ts")).skydns2Factory,
  "skydns2+http": async () => (await import("./skydns2.ts")).skydns2Factory,
  zookeeper: async () => (await import("./zookeeper.ts")).zookeeperFactory,
  local: async () => () => new LocalRegistry(),
};

export const SUPPORTED_SCHEMES = Object.keys(SCHEMES);

/** Builds the adapter for a URI; validates it (ConfigError) before any connection is made. */
export async function createAdapter(uri: string, ctx: AdapterContext): Promise<RegistryAdapter> {
  const u = parseRegistryUri(uri);
  if (u.authority === undefined) {
    throw new ConfigError(
      `Invalid registry URI "${redactUri(uri)}": expected <scheme>://<address>[/<path>], e.g. consul://127.0.0.1:8500 or etcd://127.0.0.1:2379/services`,
    );
  }
  const load = SCHEMES[u.scheme];
  if (!load) {
    throw new ConfigError(
      `Unknown registry "${u.scheme}://" in "${redactUri(uri)}": expected one of ${SUPPORTED_SCHEMES.map((s) => s + "://").join(", ")}`,
    );
  }
  const factory = await load();
  return factory(u, ctx);
}

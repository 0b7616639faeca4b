/**
 * How logs, metrics and the status page name each registry: its backend ("etcd", "local") when
 * no other registry has the same backend, else its URI without credentials and query
 * ("etcd://10.0.0.1:2379/services"), so two registries never share a name.
 */
export function registryNames(uris: readonly string[], backends: readonly string[] = uris.map(backendOf)): string[] {
  const count = new Map<string, number>();
  for (const b of backends) count.set(b, (count.get(b) ?? 0) + 1);
  return backends.map((b, i) => (count.get(b) === 1 ? b : bareUri(uris[i]!)));
}

/** The backend a URI's scheme names, as its adapter reports it ("consul-tls" → "consul", "etcd+https" → "etcd"). */
export function backendOf(uri: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase() ?? "local";
  return scheme.replace(/(\+https?|-tls|-unix)$/, "");
}

/** A URI without its user info and query, which may carry credentials. */
function bareUri(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, "$1").replace(/[?#].*$/, "");
}

import type { NetInterfaces } from "./runtime/types.ts";

/**
 * The address used for ports bound to 0.0.0.0 when -ip is not given: this host's name resolved
 * (as registrator does), unless that is a loopback address, then the first non-internal IPv4 of
 * an interface (listed by the runtime). Returns the address and why it was chosen, for the startup log.
 */
export async function resolveHostIp(hostname: string, interfaces: () => NetInterfaces): Promise<{ ip: string; why: string }> {
  let resolved: string | undefined;
  try {
    // Loaded here, not at startup: with -ip it is never needed, and the module costs memory.
    const { lookup } = await import("node:dns/promises");
    resolved = (await lookup(hostname, { family: 4 })).address;
  } catch {}
  if (resolved && !resolved.startsWith("127.")) return { ip: resolved, why: `hostname "${hostname}" resolves to it` };
  for (const [name, addrs] of Object.entries(interfaces())) {
    const a = addrs?.find((x) => x.family === "IPv4" && !x.internal);
    if (a) {
      return {
        ip: a.address,
        why: resolved ? `hostname "${hostname}" resolves to loopback ${resolved}; using interface ${name}` : `first address of interface ${name}`,
      };
    }
  }
  return { ip: resolved ?? "127.0.0.1", why: resolved ? `hostname "${hostname}" resolves to it` : "no other address found" };
}

// SkyDNS 2 / CoreDNS `etcd` plugin records (protocols.md 4, parity "SkyDNS records"):
// `/skydns/<domain labels reversed>/<dnsLabel(name)>/<dnsLabel(id)>` =
// `{"host","port","ttl","priority"?,"weight"?,"registrator":"<original id>"}`.
// v3 by default (what CoreDNS reads), v2 with `?api=v2` (the old SkyDNS 2 server).

import { dnsLabel } from "../services/identity.ts";
import type { AdapterContext, ListedService, RegistryAdapter, RegistryUri, Service, ServiceRef } from "../types.ts";
import { etcdSettings } from "./etcd-client.ts";
import { type EtcdOptions, KvAdapter, type KvLayout, etcdStore, protocolOf } from "./etcd.ts";
import { safeSegment, uriError } from "./uri.ts";

export const SKYDNS2_URI_FORM =
  "skydns2://host:port[,host:port…]/domain (e.g. skydns2://127.0.0.1:2379/skydns.local), optionally ?api=v2";

const DEFAULT_TTL = 60;

/** `skydns.local` → `/skydns/local/skydns`. */
export function skydnsBase(domain: string): string {
  return `/skydns/${domain.split(".").reverse().join("/")}`;
}

/** An SRV priority or weight: an integer 0–65535, else undefined. */
function srvNumber(v: string | undefined): number | undefined {
  if (v === undefined || !/^\s*\d+\s*$/.test(v)) return undefined;
  const n = Number(v);
  return n <= 65535 ? n : undefined;
}

export function skydnsLayout(domain: string, ttl: number, warn: (msg: string) => void): KvLayout {
  const base = skydnsBase(domain);
  const listPrefix = `${base}/`;
  const warned = new Set<string>();
  const dirOf = (ref: ServiceRef) => `${base}/${safeSegment(dnsLabel(safeSegment(ref.name, "service name", "skydns2")), "service name", "skydns2")}`;
  return {
    listPrefix,
    key: (ref) => `${dirOf(ref)}/${safeSegment(dnsLabel(safeSegment(ref.id, "service ID", "skydns2")), "service ID", "skydns2")}`,
    // The name's directory goes with its last record, so SkyDNS answers NXDOMAIN for the name.
    dirOf,
    value(s: Service) {
      const record: Record<string, unknown> = { host: s.ip, port: s.port, ttl: ttl > 0 ? ttl : DEFAULT_TTL };
      for (const attr of ["priority", "weight"] as const) {
        const raw = s.attrs[attr];
        const n = srvNumber(raw);
        if (n !== undefined) record[attr] = n;
        // Without SERVICE_WEIGHT, the weight the service asks for while passing (SERVICE_WEIGHT_PASSING).
        else if (attr === "weight" && raw === undefined && s.weights) record.weight = s.weights.passing;
        else if (raw !== undefined && !warned.has(`${s.id}\0${attr}`)) {
          warned.add(`${s.id}\0${attr}`);
          warn(`skydns2: ignoring ${attr} "${raw}" of "${s.id}": expected an integer from 0 to 65535`);
        }
      }
      record.registrator = s.id;
      return JSON.stringify(record);
    },
    parse({ key, value }): ListedService | undefined {
      const parts = key.slice(listPrefix.length).split("/");
      const [name] = parts;
      if (!key.startsWith(listPrefix) || parts.length !== 2 || !name || !parts[1]) return undefined;
      let rec: { host?: unknown; port?: unknown; registrator?: unknown };
      try {
        rec = JSON.parse(value) as typeof rec;
      } catch {
        return undefined;
      }
      // Only records that carry our marker are ours to compare or clean up.
      if (typeof rec?.registrator !== "string" || rec.registrator === "") return undefined;
      const id = rec.registrator;
      return {
        id,
        name,
        ip: typeof rec.host === "string" ? rec.host : "",
        port: typeof rec.port === "number" ? rec.port : 0,
        protocol: protocolOf(id),
        fingerprint: value,
      };
    },
  };
}

/** `skydns2://h:p[,h2:p2…]/domain[?api=v2]`, `skydns2+https://…`; TLS and auth from ETCDCTL_*. */
export function skydns2Factory(uri: RegistryUri, ctx: AdapterContext, opts: EtcdOptions = {}): RegistryAdapter {
  const settings = etcdSettings(uri, ctx.env, { scheme: "skydns2", form: SKYDNS2_URI_FORM });
  const domain = settings.path.replace(/^\//, "").replace(/\.+$/, "").toLowerCase();
  const labels = domain.split(".");
  if (domain === "" || domain.includes("/") || labels.some((l) => !/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l))) {
    throw uriError(uri, `${domain === "" ? "the domain is missing" : `"${domain}" is not a DNS domain`}; expected ${SKYDNS2_URI_FORM}`);
  }
  if (opts.timeoutMs) settings.timeoutMs = opts.timeoutMs;
  const { http, store } = etcdStore(settings, ctx);
  return new KvAdapter("skydns2", http, store, skydnsLayout(domain, ctx.ttl, (m) => ctx.log.warn(m)), ctx.log);
}

// The request bodies of the agent endpoints as Go types (zod schemas read by godecode.ts),
// and the normalisation Consul's UnmarshalJSON methods apply after decoding (snake-case
// aliases, durations as Go strings or nanosecond numbers).

import { z } from "zod";
import {
  GoDecodeError,
  go,
  goAny,
  goBool,
  goInt,
  goMap,
  goOpaque,
  goString,
  goStrings,
  goStruct,
} from "./godecode.ts";
import { GoDurationError, parseGoDuration } from "./goduration.ts";

/** Also parts of structs.NodeService (external.ts, the catalog's register request). */
export const ServiceAddress = goStruct("ServiceAddress", "structs.ServiceAddress", { Address: goString(), Port: goInt() });
export const Weights = goStruct("Weights", "structs.Weights", { Passing: goInt(), Warning: goInt() });
const Locality = goStruct("Locality", "structs.Locality", { Region: goString(), Zone: goString() });

/** A check definition after CheckType.UnmarshalJSON; durations in nanoseconds. */
export interface CheckDef {
  CheckID: string;
  Name: string;
  Status: string;
  Notes: string;
  ScriptArgs?: string[];
  HTTP: string;
  H2PING: string;
  H2PingUseTLS: boolean;
  Header?: Record<string, string[]>;
  Method: string;
  Body: string;
  DisableRedirects: boolean;
  TCP: string;
  UDP: string;
  AliasNode: string;
  AliasService: string;
  DockerContainerID: string;
  Shell: string;
  GRPC: string;
  GRPCUseTLS: boolean;
  OSService: string;
  TLSServerName: string;
  TLSSkipVerify: boolean;
  SuccessBeforePassing: number;
  FailuresBeforeWarning: number;
  FailuresBeforeCritical: number;
  ProxyHTTP: string;
  ProxyGRPC: string;
  OutputMaxSize: number;
  Interval: bigint;
  Timeout: bigint;
  TTL: bigint;
  DeregisterCriticalServiceAfter: bigint;
}

// CheckType.UnmarshalJSON decodes into an anonymous struct: durations as interface{}, snake-case
// aliases, and ServiceID/service_id accepted but ignored; the other fields come from CheckType.
const checkShape = {
  Interval: goAny(),
  Timeout: goAny(),
  TTL: goAny(),
  DeregisterCriticalServiceAfter: goAny(),
  args: goStrings(),
  script_args: goStrings(),
  deregister_critical_service_after: goAny(),
  docker_container_id: goString(),
  tls_server_name: goString(),
  tls_skip_verify: goBool(),
  grpc_use_tls: goBool(),
  h2ping_use_tls: goBool(),
  ServiceID: goString(),
  service_id: goString(),
  CheckID: goString("types.CheckID"),
  Name: goString(),
  Status: goString(),
  Notes: goString(),
  ScriptArgs: goStrings(),
  HTTP: goString(),
  H2PING: goString(),
  H2PingUseTLS: goBool(),
  Header: goMap(goStrings()),
  Method: goString(),
  Body: goString(),
  DisableRedirects: goBool(),
  TCP: goString(),
  UDP: goString(),
  AliasNode: goString(),
  AliasService: goString(),
  DockerContainerID: goString(),
  Shell: goString(),
  GRPC: goString(),
  GRPCUseTLS: goBool(),
  OSService: goString(),
  TLSServerName: goString(),
  TLSSkipVerify: goBool(),
  SuccessBeforePassing: goInt(),
  FailuresBeforeWarning: goInt(),
  FailuresBeforeCritical: goInt(),
  ProxyHTTP: goString(),
  ProxyGRPC: goString(),
  OutputMaxSize: goInt(),
};
type CheckAux = z.output<z.ZodObject<typeof checkShape>>;

/** interface{} duration: a string is a Go duration, a number is nanoseconds, anything else is ignored. */
function duration(v: unknown): bigint {
  if (typeof v === "string") {
    try {
      return parseGoDuration(v);
    } catch (e) {
      throw e instanceof GoDurationError ? new GoDecodeError(e.message) : e;
    }
  }
  if (typeof v === "number" && Number.isFinite(v)) {
    const n = Math.trunc(v);
    return BigInt(Math.max(Math.min(n, Number.MAX_SAFE_INTEGER), Number.MIN_SAFE_INTEGER));
  }
  return 0n;
}

function finishCheck(raw: Record<string, unknown>): CheckDef {
  const a = raw as CheckAux;
  let scriptArgs = a.ScriptArgs;
  if (!scriptArgs?.length) scriptArgs = a.args;
  if (!scriptArgs?.length) scriptArgs = a.script_args;
  const h2ping = a.H2PING ?? "";
  const h2Snake = a.h2ping_use_tls ?? h2ping !== "";
  let h2UseTls = a.H2PingUseTLS ?? h2ping !== "";
  if ((h2ping !== "" && !h2Snake) || (h2ping === "" && h2Snake)) h2UseTls = h2Snake;
  const interval = duration(a.Interval);
  const timeout = duration(a.Timeout);
  const ttl = duration(a.TTL);
  const deregister = duration(a.DeregisterCriticalServiceAfter ?? a.deregister_critical_service_after);
  return {
    CheckID: a.CheckID ?? "",
    Name: a.Name ?? "",
    Status: a.Status ?? "",
    Notes: a.Notes ?? "",
    ...(scriptArgs !== undefined ? { ScriptArgs: scriptArgs } : {}),
    HTTP: a.HTTP ?? "",
    H2PING: h2ping,
    H2PingUseTLS: h2UseTls,
    ...(a.Header !== undefined ? { Header: a.Header } : {}),
    Method: a.Method ?? "",
    Body: a.Body ?? "",
    DisableRedirects: a.DisableRedirects ?? false,
    TCP: a.TCP ?? "",
    UDP: a.UDP ?? "",
    AliasNode: a.AliasNode ?? "",
    AliasService: a.AliasService ?? "",
    DockerContainerID: a.DockerContainerID || (a.docker_container_id ?? ""),
    Shell: a.Shell ?? "",
    GRPC: a.GRPC ?? "",
    GRPCUseTLS: (a.GRPCUseTLS ?? false) || (a.grpc_use_tls ?? false),
    OSService: a.OSService ?? "",
    TLSServerName: a.TLSServerName || (a.tls_server_name ?? ""),
    TLSSkipVerify: (a.TLSSkipVerify ?? false) || (a.tls_skip_verify ?? false),
    SuccessBeforePassing: a.SuccessBeforePassing ?? 0,
    FailuresBeforeWarning: a.FailuresBeforeWarning ?? 0,
    FailuresBeforeCritical: a.FailuresBeforeCritical ?? 0,
    ProxyHTTP: a.ProxyHTTP ?? "",
    ProxyGRPC: a.ProxyGRPC ?? "",
    OutputMaxSize: a.OutputMaxSize ?? 0,
    Interval: interval,
    Timeout: timeout,
    TTL: ttl,
    DeregisterCriticalServiceAfter: deregister,
  };
}

/** Go's CheckType.Empty(): every field at its zero value (a nil slice or map, not an empty one). */
export function isEmptyCheck(c: CheckDef): boolean {
  return Object.entries(c).every(([, v]) => v === "" || v === false || v === 0 || v === 0n || v === undefined);
}

/** The zero CheckType. */
export const zeroCheck = (): CheckDef => finishCheck({});

export const CheckTypeSchema = goStruct("", "structs.CheckType", checkShape, { boundary: { finish: finishCheck } });

/** A service definition after ServiceDefinition.UnmarshalJSON. */
export interface ServiceDef {
  Kind: string;
  ID: string;
  Name: string;
  Tags?: string[];
  Address: string;
  TaggedAddresses?: Record<string, { Address?: string; Port?: number }>;
  Meta?: Record<string, string>;
  Port: number;
  SocketPath: string;
  Check?: CheckDef;
  Checks?: Array<CheckDef | undefined>;
  Weights?: { Passing?: number; Warning?: number };
  Token: string;
  EnableTagOverride: boolean;
  Locality?: { Region?: string; Zone?: string };
  Proxy?: unknown;
  Connect?: unknown;
  Namespace: string;
  Partition: string;
}

// ServiceDefinition.UnmarshalJSON: an anonymous struct with two snake-case aliases around the
// definition's own fields. Namespace and Partition are listed in protocols.md 2.2 as accepted.
const serviceShape = {
  enable_tag_override: goBool(),
  tagged_addresses: goMap(ServiceAddress),
  Kind: goString("structs.ServiceKind"),
  ID: goString(),
  Name: goString(),
  Tags: goStrings(),
  Address: goString(),
  TaggedAddresses: goMap(ServiceAddress),
  Meta: goMap(goString()),
  Port: goInt(),
  SocketPath: goString(),
  Check: CheckTypeSchema,
  Checks: z.array(CheckTypeSchema).register(go, { type: "structs.CheckTypes" }),
  Weights,
  Token: goString(),
  EnableTagOverride: goBool(),
  Locality,
  Proxy: goOpaque("structs.ConnectProxyConfig"),
  Connect: goOpaque("structs.ServiceConnect"),
  Namespace: goString(),
  Partition: goString(),
};
type ServiceAux = z.output<z.ZodObject<typeof serviceShape>>;

function finishService(raw: Record<string, unknown>): ServiceDef {
  const a = raw as ServiceAux & { Check?: CheckDef; Checks?: Array<CheckDef | undefined> };
  const tagged = a.TaggedAddresses && Object.keys(a.TaggedAddresses).length > 0 ? a.TaggedAddresses : a.tagged_addresses;
  return {
    Kind: a.Kind ?? "",
    ID: a.ID ?? "",
    Name: a.Name ?? "",
    ...(a.Tags !== undefined ? { Tags: a.Tags } : {}),
    Address: a.Address ?? "",
    ...(tagged !== undefined ? { TaggedAddresses: tagged } : {}),
    ...(a.Meta !== undefined ? { Meta: a.Meta } : {}),
    Port: a.Port ?? 0,
    SocketPath: a.SocketPath ?? "",
    ...(a.Check !== undefined ? { Check: a.Check } : {}),
    ...(a.Checks !== undefined ? { Checks: a.Checks } : {}),
    ...(a.Weights !== undefined ? { Weights: a.Weights } : {}),
    Token: a.Token ?? "",
    EnableTagOverride: a.enable_tag_override === true ? true : (a.EnableTagOverride ?? false),
    ...(a.Locality !== undefined ? { Locality: a.Locality } : {}),
    ...(a.Proxy !== undefined ? { Proxy: a.Proxy } : {}),
    ...(a.Connect !== undefined ? { Connect: a.Connect } : {}),
    Namespace: a.Namespace ?? "",
    Partition: a.Partition ?? "",
  };
}

export const ServiceDefinitionSchema = goStruct("", "structs.ServiceDefinition", serviceShape, {
  boundary: { finish: finishService },
});

/** The body of PUT /v1/agent/check/update/<id> (agent.checkUpdate, decoded without a custom UnmarshalJSON). */
export const CheckUpdateSchema = goStruct("checkUpdate", "agent.checkUpdate", { Status: goString(), Output: goString() });
export interface CheckUpdate {
  Status?: string;
  Output?: string;
}

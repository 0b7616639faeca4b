// startConsulEmulator options, validated with zod (an emulator misconfigured by a test should say so).

import { z } from "zod";

export const EmulatorOptionsSchema = z
  .object({
    /** ACL management token; when set, ACLs are on with default policy "deny". */
    token: z.string().min(1).optional(),
    /** Serve HTTPS; with requestCert, clients must present a certificate signed by `ca`. */
    tls: z
      .object({
        cert: z.string().min(1),
        key: z.string().min(1),
        ca: z.string().min(1).optional(),
        requestCert: z.boolean().optional(),
      })
      .strict()
      .refine((t) => !t.requestCert || t.ca !== undefined, "tls.requestCert needs tls.ca to verify client certificates")
      .optional(),
    /** Listen on this unix socket path instead of 127.0.0.1. */
    unixSocket: z.string().min(1).optional(),
    /** TCP port (default 0: a free one). */
    port: z.number().int().min(0).max(65535).default(0),
    /** enable_script_checks: accept Args/ScriptArgs checks over HTTP (they are never run). */
    enableScriptChecks: z.boolean().default(false),
    nodeName: z.string().min(1).default("consul-dev"),
    datacenter: z.string().min(1).default("dc1"),
    /** Version reported by /v1/agent/self and the catalog. */
    version: z.string().min(1).default("1.21.4"),
    /** check_deregister_interval_min: lower bound for DeregisterCriticalServiceAfter (real: 1 min). */
    reapMinimumMs: z.number().int().nonnegative().default(60_000),
    /** check_reap_interval: how often the reaper runs (real: 30 s). */
    reapIntervalMs: z.number().int().positive().default(30_000),
    /** kv_max_value_size in bytes (real default 512 KiB). */
    kvMaxValueSize: z.number().int().positive().default(512 * 1024),
    /** Refuse KV keys as validateKVKey on Consul's main branch does (see kvkeys.ts); off by default. */
    kvKeyValidation: z.boolean().default(false),
  })
  .strict()
  .refine((o) => !(o.tls && o.unixSocket), "tls and unixSocket cannot be combined");

export type EmulatorOptions = z.input<typeof EmulatorOptionsSchema>;
export type ResolvedOptions = z.output<typeof EmulatorOptionsSchema>;

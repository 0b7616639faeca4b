import { z } from "../zod.ts";

// Only the fields registrator reads are declared and checked. Parsing strips the rest, so callers
// validate with `validInspect()`, which keeps Docker's whole object (the -tags templates may reach
// any field of the inspect JSON) without paying for a deep copy of it on every event. Every object
// is a plain (stripping) one: a loose one would copy each of its undeclared keys (HostConfig has
// dozens) into an output nobody reads, on every inspect.

const PortBinding = z.object({
  HostIp: z.nullish(z.string()),
  HostPort: z.nullish(z.string()),
});

const EndpointSettings = z.object({
  IPAddress: z.nullish(z.string()),
  GlobalIPv6Address: z.nullish(z.string()),
  NetworkID: z.nullish(z.string()),
});

export const ContainerInspect = z.object({
  Id: z.string(),
  Name: z.string(),
  Image: z.nullish(z.string()),
  Config: z.object({
    Hostname: z.nullish(z.string()),
    Image: z.nullish(z.string()),
    Env: z.nullish(z.array(z.string())),
    Labels: z.nullish(z.record(z.string(), z.string())),
    ExposedPorts: z.nullish(z.record(z.string(), z.unknown())),
  }),
  State: z.object({
    Status: z.nullish(z.string()),
    Running: z.nullish(z.boolean()),
    Paused: z.nullish(z.boolean()),
    ExitCode: z.nullish(z.number()),
    Health: z.nullish(
      z.object({ Status: z.string(), Log: z.nullish(z.array(z.nullable(z.object({ Output: z.nullish(z.string()), ExitCode: z.nullish(z.number()) })))) }),
    ),
  }),
  HostConfig: z.nullish(
    z.object({
      NetworkMode: z.nullish(z.string()),
    }),
  ),
  NetworkSettings: z.nullish(
    z.object({
      IPAddress: z.nullish(z.string()),
      GlobalIPv6Address: z.nullish(z.string()),
      Ports: z.nullish(z.record(z.string(), z.nullable(z.array(PortBinding)))),
      Networks: z.nullish(z.record(z.string(), EndpointSettings)),
    }),
  ),
});
export type ContainerInspect = z.infer<typeof ContainerInspect>;

/** `o` without a prototype, so a key such as "constructor" or "__proto__" is only ever its own entry. */
function ownKeysOnly(o: object | null | undefined): void {
  if (o && typeof o === "object" && Object.getPrototypeOf(o) !== null) Object.setPrototypeOf(o, null);
}

/**
 * Checks the fields registrator reads; returns Docker's own object (all fields) or the first problem.
 * The maps keyed by container-controlled strings (labels, exposed ports, port bindings, networks) lose
 * their prototype in place, so `labels["constructor"]` is a label or undefined, never Object's function.
 */
export function validInspect(raw: unknown): { data: ContainerInspect } | { error: string } {
  const r = ContainerInspect.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { error: `${issue?.path.join(".") || "(root)"}: ${issue?.message}` };
  }
  const c = raw as ContainerInspect;
  ownKeysOnly(c.Config.Labels);
  ownKeysOnly(c.Config.ExposedPorts);
  ownKeysOnly(c.NetworkSettings?.Ports);
  ownKeysOnly(c.NetworkSettings?.Networks);
  return { data: c };
}

/** The fields of `GET /images/{id}/json` registrator reads. */
export const ImageInspect = z.object({
  RepoTags: z.nullish(z.array(z.string())),
});
export type ImageInspect = z.infer<typeof ImageInspect>;

export const ContainerSummary = z.object({
  Id: z.string(),
  Names: z.nullish(z.array(z.string())),
  State: z.nullish(z.string()),
});
export type ContainerSummary = z.infer<typeof ContainerSummary>;
/** The reply of GET /containers/json. */
export const ContainerList = z.array(ContainerSummary);

export const DockerEvent = z.object({
  Type: z.nullish(z.string()),
  Action: z.nullish(z.string()),
  status: z.nullish(z.string()),
  id: z.nullish(z.string()),
  Actor: z.nullish(
    z.object({
      ID: z.nullish(z.string()),
      Attributes: z.nullish(z.record(z.string(), z.string())),
    }),
  ),
  time: z.nullish(z.number()),
  timeNano: z.nullish(z.number()),
});
export type DockerEvent = z.infer<typeof DockerEvent>;

import { z } from "zod";

// Only the fields registrator reads are declared and checked. Parsing strips the rest, so callers
// validate with `validInspect()`, which keeps Docker's whole object (the -tags templates may reach
// any field of the inspect JSON) without paying for a deep copy of it on every event.

const PortBinding = z.object({
  HostIp: z.string().nullish(),
  HostPort: z.string().nullish(),
});

const EndpointSettings = z.object({
  IPAddress: z.string().nullish(),
  GlobalIPv6Address: z.string().nullish(),
  NetworkID: z.string().nullish(),
});

export const ContainerInspect = z.object({
  Id: z.string(),
  Name: z.string(),
  Image: z.string().nullish(),
  Config: z.object({
    Hostname: z.string().nullish(),
    Image: z.string().nullish(),
    Env: z.array(z.string()).nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
    ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
  }),
  State: z.object({
    Status: z.string().nullish(),
    Running: z.boolean().nullish(),
    Paused: z.boolean().nullish(),
    ExitCode: z.number().nullish(),
    Health: z
      .object({ Status: z.string(), Log: z.array(z.object({ Output: z.string().nullish(), ExitCode: z.number().nullish() }).nullable()).nullish() })
      .nullish(),
  }),
  HostConfig: z
    .looseObject({
      NetworkMode: z.string().nullish(),
    })
    .nullish(),
  NetworkSettings: z
    .looseObject({
      IPAddress: z.string().nullish(),
      GlobalIPv6Address: z.string().nullish(),
      Ports: z.record(z.string(), z.array(PortBinding).nullable()).nullish(),
      Networks: z.record(z.string(), EndpointSettings).nullish(),
    })
    .nullish(),
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

export const ContainerSummary = z.object({
  Id: z.string(),
  Names: z.array(z.string()).nullish(),
  State: z.string().nullish(),
});
export type ContainerSummary = z.infer<typeof ContainerSummary>;

export const DockerEvent = z.object({
  Type: z.string().nullish(),
  Action: z.string().nullish(),
  status: z.string().nullish(),
  id: z.string().nullish(),
  Actor: z
    .looseObject({
      ID: z.string().nullish(),
      Attributes: z.record(z.string(), z.string()).nullish(),
    })
    .nullish(),
  time: z.number().nullish(),
  timeNano: z.number().nullish(),
});
export type DockerEvent = z.infer<typeof DockerEvent>;

import { z } from "../zod.ts";

// Only the fields registrator reads are declared and checked. Parsing strips the rest, so callers
// validate with `validInspect()`, which keeps Docker's whole object (the -tags templates may reach
// any field of the inspect JSON) without paying for a deep copy of it on every event. Every object
// is a plain (stripping) one: a loose one would copy each of its undeclared keys (HostConfig has
// dozens) into an output nobody reads, on every inspect.

// Schemas are immutable: one instance of each leaf serves every field of its shape. Each schema
// zod builds costs startup time, on the way to the first registration (bench/startup.ts).
const str = z.string();
const text = z.nullish(str);
const whole = z.nullish(z.number());
const flag = z.nullish(z.boolean());
const optText = z.optional(str);
const texts = z.nullish(z.array(str));
const textMap = z.nullish(z.record(str, str));

const PortBinding = z.object({
  HostIp: text,
  HostPort: text,
});

const EndpointSettings = z.object({
  IPAddress: text,
  GlobalIPv6Address: text,
  NetworkID: text,
});

export const ContainerInspect = z.object({
  Id: str,
  Name: str,
  Image: text,
  Config: z.object({
    Hostname: text,
    Image: text,
    Env: texts,
    Labels: textMap,
    ExposedPorts: z.nullish(z.record(str, z.unknown())),
  }),
  State: z.object({
    Status: text,
    Running: flag,
    Paused: flag,
    ExitCode: whole,
    Health: z.nullish(
      z.object({ Status: str, Log: z.nullish(z.array(z.nullable(z.object({ Output: text, ExitCode: whole })))) }),
    ),
  }),
  HostConfig: z.nullish(
    z.object({
      NetworkMode: text,
    }),
  ),
  NetworkSettings: z.nullish(
    z.object({
      IPAddress: text,
      GlobalIPv6Address: text,
      Ports: z.nullish(z.record(str, z.nullable(z.array(PortBinding)))),
      Networks: z.nullish(z.record(str, EndpointSettings)),
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
  RepoTags: texts,
});
export type ImageInspect = z.infer<typeof ImageInspect>;

export const ContainerSummary = z.object({
  Id: str,
  Names: texts,
  State: text,
});
export type ContainerSummary = z.infer<typeof ContainerSummary>;
/** The reply of GET /containers/json. */
export const ContainerList = z.array(ContainerSummary);

export const DockerEvent = z.object({
  Type: text,
  Action: text,
  status: text,
  id: text,
  Actor: z.nullish(
    z.object({
      ID: text,
      // Only the attributes the bridge reads (src/bridge/events.ts): the rest are the container's
      // labels, checked and copied on every event for nothing.
      Attributes: z.nullish(z.object({ signal: optText, exitCode: optText, containerExitCode: optText })),
    }),
  ),
  time: whole,
  timeNano: whole,
});
export type DockerEvent = z.infer<typeof DockerEvent>;

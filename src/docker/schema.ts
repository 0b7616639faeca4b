import { z } from "zod";

// Only the fields registrator reads; everything else Docker sends is kept (loose) but unchecked,
// so the -tags templates can still reach any field of the inspect JSON.

const PortBinding = z.looseObject({
  HostIp: z.string().nullish(),
  HostPort: z.string().nullish(),
});

const EndpointSettings = z.looseObject({
  IPAddress: z.string().nullish(),
  GlobalIPv6Address: z.string().nullish(),
  NetworkID: z.string().nullish(),
});

export const ContainerInspect = z.looseObject({
  Id: z.string(),
  Name: z.string(),
  Image: z.string().nullish(),
  Config: z.looseObject({
    Hostname: z.string().nullish(),
    Image: z.string().nullish(),
    Env: z.array(z.string()).nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
    ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
  }),
  State: z.looseObject({
    Status: z.string().nullish(),
    Running: z.boolean().nullish(),
    ExitCode: z.number().nullish(),
    Health: z.looseObject({ Status: z.string() }).nullish(),
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

export const ContainerSummary = z.looseObject({
  Id: z.string(),
  Names: z.array(z.string()).nullish(),
  State: z.string().nullish(),
});
export type ContainerSummary = z.infer<typeof ContainerSummary>;

export const DockerEvent = z.looseObject({
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

import type { ContainerInspect } from "../docker/schema.ts";

/** What the bridge needs from Docker (DockerClient satisfies it). */
export interface DockerSource {
  list(): Promise<Array<{ Id: string }>>;
  inspect(id: string): Promise<ContainerInspect | null>;
  /** An image's EXPOSE ports (Podman leaves them out of host-network containers' inspect). */
  imageExposedPorts?(image: string): Promise<Record<string, unknown> | undefined>;
}

/**
 * What derivation needs beyond the inspect: the peer of a `container:<id>` network mode, and for
 * host-network containers without ExposedPorts (Podman omits them) the image's EXPOSE ports.
 */
export async function derivationInput(
  docker: DockerSource,
  c: ContainerInspect,
): Promise<{ container: ContainerInspect; peer?: ContainerInspect }> {
  const mode = c.HostConfig?.NetworkMode ?? "";
  if (mode === "host" && !c.Config.ExposedPorts && c.Image && docker.imageExposedPorts) {
    const exposed = await docker.imageExposedPorts(c.Image).catch(() => undefined);
    if (exposed) c = { ...c, Config: { ...c.Config, ExposedPorts: exposed } };
  }
  if (!mode.startsWith("container:")) return { container: c };
  const peer = (await docker.inspect(mode.slice("container:".length)).catch(() => null)) ?? undefined;
  return { container: c, ...(peer ? { peer } : {}) };
}

import type { ContainerInspect } from "../docker/schema.ts";
import { imageIdOf } from "../services/address.ts";

/** What the bridge needs from Docker (DockerClient satisfies it). */
export interface DockerSource {
  list(): Promise<Array<{ Id: string }>>;
  inspect(id: string): Promise<ContainerInspect | null>;
  /** An image's EXPOSE ports (Podman leaves them out of host-network containers' inspect). */
  imageExposedPorts?(image: string): Promise<Record<string, unknown> | undefined>;
  /** An image's first repository tag, null when it has none (cached per image ID by the client). */
  imageTag?(imageId: string): Promise<string | null>;
}

export interface DerivationInput {
  container: ContainerInspect;
  peer?: ContainerInspect;
  /** Set when Config.Image names the image by ID: the image's first repository tag, or null. */
  imageTag?: string | null;
}

/**
 * What derivation needs beyond the inspect: the peer of a `container:<id>` network mode, for
 * host-network containers without ExposedPorts (Podman omits them) the image's EXPOSE ports, and
 * for an image named by ID (#701) its tag, to name the services by.
 */
export async function derivationInput(docker: DockerSource, c: ContainerInspect): Promise<DerivationInput> {
  const mode = c.HostConfig?.NetworkMode ?? "";
  if (mode === "host" && !c.Config.ExposedPorts && c.Image && docker.imageExposedPorts) {
    const exposed = await docker.imageExposedPorts(c.Image).catch(() => undefined);
    if (exposed) c = { ...c, Config: { ...c.Config, ExposedPorts: exposed } };
  }
  const imageId = docker.imageTag ? imageIdOf(c.Config.Image ?? "", c.Image) : undefined;
  const imageTag = imageId ? { imageTag: await docker.imageTag!(imageId) } : {};
  if (!mode.startsWith("container:")) return { container: c, ...imageTag };
  const peer = (await docker.inspect(mode.slice("container:".length)).catch(() => null)) ?? undefined;
  return { container: c, ...(peer ? { peer } : {}), ...imageTag };
}

/** Bad configuration (flags, env, URI). cli.ts turns it into one line on stderr and exit code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A registry could not be reached or refused a request. Never fatal after startup. */
export class RegistryError extends Error {
  override name = "RegistryError";
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Docker could not be reached or answered unexpectedly. */
export class DockerError extends Error {
  override name = "DockerError";
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

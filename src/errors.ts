/** Bad configuration (flags, env, URI). cli.ts turns it into one line on stderr and exit code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A failure talking to a service over HTTP, with the answer's status when there was one. */
abstract class StatusError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A registry could not be reached or refused a request. Never fatal after startup. */
export class RegistryError extends StatusError {
  override name = "RegistryError";
}

/** Docker could not be reached or answered unexpectedly. */
export class DockerError extends StatusError {
  override name = "DockerError";
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

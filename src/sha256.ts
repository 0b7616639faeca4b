// SHA-256 through the platform's WebCrypto (a global on Bun and Deno), for the few hashes
// registrator needs at startup (the embedded registry's node ID). Not node:crypto: loading that
// module costs the compiled executable several MiB of resident memory; WebCrypto is built in.

/** Lowercase hex SHA-256 of the UTF-8 bytes of text. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The Docker image context: a FROM-scratch Dockerfile and the root filesystem it copies.
import { chmodSync, copyFileSync, mkdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DIST, ROOT, mib, rel } from "./paths.ts";

/** The shared libraries and loader a dynamically linked executable needs, from `ldd`. */
export function sharedLibraries(binary: string): string[] {
  const r = Bun.spawnSync(["ldd", binary], { stdout: "pipe", stderr: "pipe" });
  const text = r.stdout.toString();
  if (r.exitCode !== 0) {
    if (/not a dynamic executable|statically linked/.test(text + r.stderr.toString())) return [];
    throw new Error(`Cannot list the libraries of "${binary}": ldd failed: ${r.stderr.toString().trim()}`);
  }
  const libs: string[] = [];
  for (const line of text.split("\n")) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m) libs.push(m[1]!);
    else if (/not found/.test(line)) throw new Error(`Cannot assemble the image: ${line.trim()}`);
  }
  return libs;
}

const CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/**
 * dist/image: Dockerfile + rootfs/ (bin/registrator, the loader and libraries at the paths ldd
 * reports, a CA bundle, a minimal /etc). `docker build dist/image` needs no pull (FROM scratch).
 */
export function assembleImage(binary: string, context = join(DIST, "image")): string {
  const rootfs = join(context, "rootfs");
  rmSync(context, { recursive: true, force: true });
  const put = (src: string, dest: string, mode?: number) => {
    const to = join(rootfs, dest);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(realpathSync(src), to); // the file, not the symlink (libc.so.6 -> …)
    if (mode !== undefined) chmodSync(to, mode);
  };
  put(binary, "bin/registrator", 0o755);
  const libs = sharedLibraries(binary);
  for (const lib of libs) put(lib, lib, 0o755);
  const ca = CA_BUNDLES.find((p) => Bun.file(p).size > 0);
  if (!ca) throw new Error(`Cannot assemble the image: no CA bundle at ${CA_BUNDLES.join(" or ")} (install ca-certificates)`);
  put(ca, "etc/ssl/certs/ca-certificates.crt", 0o644);
  const etc = join(rootfs, "etc");
  // Without nsswitch.conf glibc asks DNS before /etc/hosts: "localhost" must not leave the host.
  writeFileSync(join(etc, "nsswitch.conf"), "hosts: files dns\n");
  writeFileSync(join(etc, "passwd"), "root:x:0:0:root:/:/bin/registrator\nnobody:x:65534:65534:nobody:/:/bin/registrator\n");
  writeFileSync(join(etc, "group"), "root:x:0:\nnogroup:x:65534:\n");
  mkdirSync(join(rootfs, "tmp"), { recursive: true });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  copyFileSync(join(ROOT, "Dockerfile"), join(context, "Dockerfile"));
  writeFileSync(join(context, ".dockerignore"), "Dockerfile\n.dockerignore\n");
  const total = Number(Bun.spawnSync(["du", "-sb", rootfs], { stdout: "pipe" }).stdout.toString().split(/\s/)[0]) || 0;
  console.log(`${(rel(context) + "/").padEnd(40)} ${mib(total).padStart(10)}  (binary, ${libs.length} libraries, CA bundle)`);
  return context;
}

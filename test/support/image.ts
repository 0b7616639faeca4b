// The busybox test image, built with `docker import` (no registry pulls are possible in tests):
// /bin/busybox (static, from Debian's busybox-static) with a symlink per applet, /www/index.html
// for `httpd -f -p 80 -h /www`, /tmp, and a minimal /etc/passwd and /etc/group.
import { existsSync, readFileSync } from "node:fs";
import { run } from "./proc.ts";

export const TEST_IMAGE = "regtest/busybox:latest";
/** The body `httpd -f -p 80 -h /www` serves at "/". */
export const INDEX_HTML = "hello from regtest\n";

/** What image.ts needs from a daemon handle (Dockerd satisfies it). */
export interface DockerCli {
  readonly host: string;
  docker(args: string[], opts?: { stdin?: Uint8Array | string }): Promise<string>;
}

const BUSYBOX_PATHS = ["/bin/busybox", "/usr/bin/busybox"];
let rootTar: Promise<Uint8Array> | undefined;
const imported = new Map<string, Promise<string>>();

/** Imports the test image into the daemon unless it is there already; returns its name. */
export function ensureImage(d: DockerCli): Promise<string> {
  return importOnce(d, TEST_IMAGE, []);
}

/**
 * A derived image with EXPOSE lines (so `docker run -P` publishes them), e.g.
 * exposing(d, "regtest/redis", [6379]) or exposing(d, "regtest/dns", ["53/udp", 8080]).
 * Returns the full image name (":latest" added when no tag is given).
 */
export function exposing(d: DockerCli, name: string, ports: Array<number | string>): Promise<string> {
  const full = /:[^/]+$/.test(name) ? name : `${name}:latest`;
  const expose = ports.map((p) => (typeof p === "number" || !p.includes("/") ? `${p}/tcp` : p));
  return importOnce(d, full, expose);
}

function importOnce(d: DockerCli, name: string, expose: string[]): Promise<string> {
  const key = `${d.host}|${name}|${expose.join(",")}`;
  let p = imported.get(key);
  if (!p) {
    p = importImage(d, name, expose);
    imported.set(key, p);
    p.catch(() => imported.delete(key));
  }
  return p;
}

async function importImage(d: DockerCli, name: string, expose: string[]): Promise<string> {
  if (await hasImage(d, name, expose)) return name;
  const changes = ['CMD ["/bin/sh"]', ...(expose.length ? [`EXPOSE ${expose.join(" ")}`] : [])];
  await d.docker(["import", ...changes.flatMap((c) => ["--change", c]), "-", name], { stdin: await buildRootTar() });
  return name;
}

async function hasImage(d: DockerCli, name: string, expose: string[]): Promise<boolean> {
  let out: string;
  try {
    out = await d.docker(["image", "inspect", "--format", "{{json .Config.ExposedPorts}}", name]);
  } catch {
    return false;
  }
  const have = Object.keys(JSON.parse(out) ?? {}).sort();
  return JSON.stringify(have) === JSON.stringify([...expose].sort());
}

/** The root filesystem as an in-memory tar, built once per process (no temp files to leave behind). */
export function buildRootTar(): Promise<Uint8Array> {
  rootTar ??= (async () => {
    const busybox = BUSYBOX_PATHS.find((p) => existsSync(p));
    if (!busybox) throw new Error(`Cannot build the test image: no busybox at ${BUSYBOX_PATHS.join(" or ")} (install busybox-static)`);
    const ldd = await run(["ldd", busybox]).catch((e: Error) => e.message);
    if (!/not a dynamic executable|statically linked/.test(ldd)) {
      throw new Error(`Cannot build the test image: "${busybox}" is dynamically linked (install busybox-static)`);
    }
    const applets = (await run([busybox, "--list"])).split("\n").map((s) => s.trim()).filter((s) => s && s !== "busybox");
    const tar = new TarWriter();
    for (const dir of ["bin/", "etc/", "root/", "www/"]) tar.add(dir, "5", 0o755);
    tar.add("tmp/", "5", 0o1777);
    tar.add("bin/busybox", "0", 0o755, readFileSync(busybox));
    for (const applet of new Set(["sh", ...applets])) tar.add(`bin/${applet}`, "2", 0o777, undefined, "busybox");
    tar.add("etc/passwd", "0", 0o644, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
    tar.add("etc/group", "0", 0o644, "root:x:0:\nnogroup:x:65534:\n");
    tar.add("www/index.html", "0", 0o644, INDEX_HTML);
    return tar.finish();
  })();
  rootTar.catch(() => (rootTar = undefined));
  return rootTar;
}

/** Minimal POSIX ustar writer: directories ("5"), regular files ("0"), symlinks ("2"). */
class TarWriter {
  private chunks: Uint8Array[] = [];

  add(name: string, type: "0" | "2" | "5", mode: number, data?: Uint8Array | string, link = ""): void {
    const body = typeof data === "string" ? new TextEncoder().encode(data) : (data ?? new Uint8Array());
    const header = new Uint8Array(512);
    const put = (offset: number, text: string) => header.set(new TextEncoder().encode(text), offset);
    const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, "0") + "\0";
    if (name.length > 100 || link.length > 100) throw new Error(`Tar entry name too long: "${name}"`);
    put(0, name);
    put(100, octal(mode, 8));
    put(108, octal(0, 8));
    put(116, octal(0, 8));
    put(124, octal(body.length, 12));
    put(136, octal(Math.floor(Date.now() / 1000), 12));
    put(148, "        ");
    put(156, type);
    put(157, link);
    put(257, "ustar\u000000");
    put(265, "root");
    put(297, "root");
    put(148, octal(header.reduce((sum, b) => sum + b, 0), 7) + " ");
    this.chunks.push(header, body, new Uint8Array((512 - (body.length % 512)) % 512));
  }

  finish(): Uint8Array {
    this.chunks.push(new Uint8Array(1024));
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

// registrator on Podman's Docker-compatible API (a private rootful `podman system service`, see
// test/support/podman.ts), registering into the embedded registry (local://) read back through
// its Consul-shaped catalog: published ports, stop, rm -f, startup sync, -internal (the
// container's address on Podman's network), reconnecting after the service restarts (replay from
// Podman's file-backed event log) and -deregister on-success with Podman's die events.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { buildRootTar, INDEX_HTML } from "../support/image.ts";
import { podmanSkip, sharedPodman, type Podman } from "../support/podman.ts";
import { freePort, waitFor, type Proc } from "../support/proc.ts";
import { startRegistrator } from "../support/registrator.ts";

const skip = await podmanSkip();
const HOST = hostname();
const T = 90_000;

let pm: Podman;
const procs: Proc[] = [];
const names: string[] = [];
let seq = 0;

function uniqueName(prefix = "pm"): string {
  return `${prefix}${process.pid}x${++seq}`;
}

interface CatalogEntry {
  ServiceID: string;
  ServiceName: string;
  ServiceAddress: string;
  ServicePort: number;
  ServiceTags: string[] | null;
}

/** registrator against the Podman socket with the embedded registry; returns it and its HTTP base URL. */
async function registrator(args: string[]): Promise<{ p: Proc; api: string }> {
  const port = await freePort();
  const p = await startRegistrator(["-http", `127.0.0.1:${port}`, ...args, "local://"], {
    dockerHost: pm.host,
    ready: /Connected to Docker/,
    readyTimeout: 30_000,
  });
  procs.push(p);
  return { p, api: `http://127.0.0.1:${port}` };
}

async function catalog(api: string, svc: string): Promise<CatalogEntry[]> {
  const res = await fetch(`${api}/v1/catalog/service/${svc}`);
  if (!res.ok) throw new Error(`catalog answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as CatalogEntry[];
}

/** Waits until the catalog lists exactly n instances of svc. */
async function instances(api: string, svc: string, n: number, timeout = 10_000): Promise<CatalogEntry[]> {
  let last: CatalogEntry[] = [];
  return waitFor(async () => {
    last = await catalog(api, svc);
    return last.length === n ? last : false;
  }, { timeout, interval: 50, message: `service ${svc} never had ${n} instance(s) in the catalog` }).catch((err) => {
    throw new Error(`${err.message}; last: ${JSON.stringify(last)}`);
  });
}

/** Reads Podman's event stream (replaying from `since`) until an event matches; then closes it. */
async function firstEvent(path: string, match: (ev: any) => boolean, timeout = 10_000): Promise<any> {
  const res = await pm.api(path, { signal: AbortSignal.timeout(timeout) });
  if (!res.ok || !res.body) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const seen: string[] = [];
  let buf = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`event stream ended without a match; saw ${seen.join(", ")}`);
      buf += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const ev = JSON.parse(line);
        seen.push(ev.Action);
        if (match(ev)) return ev;
      }
    }
  } catch (err) {
    throw new Error(`No matching event from ${path}: ${(err as Error).message}; saw ${seen.join(", ")}`);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** podman run -d --name NAME -e SERVICE_NAME=SVC … image cmd; returns the container ID. */
async function runContainer(name: string, args: string[], cmd: string[] = ["sleep", "3600"]): Promise<string> {
  names.push(name);
  return pm.podman(["run", "-d", "--pull", "never", "--name", name, ...args, pm.image, ...cmd]);
}

beforeAll(async () => {
  if (skip) return;
  pm = await sharedPodman();
}, T);

afterAll(async () => {
  for (const p of procs) await p.stop();
  if (pm && names.length) await pm.podman(["rm", "-f", "-t", "0", ...names]).catch(() => "");
}, T);

describe.skipIf(!!skip)("registrator on Podman", () => {
  // One registrator shared by the tests that only need one running, started by whichever runs
  // first, so each test also runs alone; the startup test starts (and stops) its own.
  let shared: Promise<{ p: Proc; api: string }> | undefined;
  const running = () => (shared ??= registrator(["-ip", "127.0.0.1"]));

  test("the service is Podman speaking Docker's API", async () => {
    const res = await pm.api("/_ping");
    expect(await res.text()).toBe("OK");
    expect(res.headers.get("Libpod-Api-Version")).toMatch(/^\d+\.\d+/);
    expect(res.headers.get("Api-Version")).toMatch(/^1\.\d+$/);
  }, T);

  test("a container started before registrator is registered at startup", async () => {
    const name = uniqueName();
    const svc = uniqueName("early");
    const port = await freePort();
    await runContainer(name, ["-p", `${port}:80`, "-e", `SERVICE_NAME=${svc}`]);
    const own = await registrator(["-ip", "127.0.0.1"]);
    const [entry] = await instances(own.api, svc, 1);
    expect(entry).toMatchObject({ ServiceID: `${HOST}:${name}:80`, ServiceName: svc, ServiceAddress: "127.0.0.1", ServicePort: port });
    await own.p.stop();
  }, T);

  test("podman run -d -p registers the published port (which serves); podman stop removes it", async () => {
    const main = await running();
    const name = uniqueName();
    const svc = uniqueName("web");
    const port = await freePort();
    const t0 = Date.now();
    await runContainer(name, ["-p", `${port}:80`, "-e", `SERVICE_NAME=${svc}`, "-e", "SERVICE_TAGS=podman,v1"], ["httpd", "-f", "-p", "80", "-h", "/www"]);
    const [entry] = await instances(main.api, svc, 1);
    const registeredMs = Date.now() - t0;
    expect(entry).toMatchObject({ ServiceID: `${HOST}:${name}:80`, ServiceAddress: "127.0.0.1", ServicePort: port, ServiceTags: ["podman", "v1"] });
    // The registered address really reaches the container (through Podman's port forwarding).
    const body = await waitFor(async () => (await fetch(`http://${entry!.ServiceAddress}:${entry!.ServicePort}/`)).text(), {
      timeout: 10_000, message: "the registered address does not serve",
    });
    expect(body).toBe(INDEX_HTML);
    const t1 = Date.now();
    await pm.podman(["stop", "-t", "0", name]);
    await instances(main.api, svc, 0);
    console.error(`podman: registered ${registeredMs} ms after podman run; removed ${Date.now() - t1} ms after podman stop`);
  }, T);

  test("podman rm -f removes the entry", async () => {
    const main = await running();
    const name = uniqueName();
    const svc = uniqueName("gone");
    const port = await freePort();
    await runContainer(name, ["-p", `${port}:80`, "-e", `SERVICE_NAME=${svc}`]);
    await instances(main.api, svc, 1);
    await pm.podman(["rm", "-f", "-t", "0", name]);
    await instances(main.api, svc, 0);
  }, T);

  test("-internal registers the container's address on Podman's network and the exposed port", async () => {
    const { p, api } = await registrator(["-internal"]);
    try {
      const name = uniqueName();
      const svc = uniqueName("inner");
      const port = await freePort();
      const id = await runContainer(name, ["-p", `${port}:80`, "-e", `SERVICE_NAME=${svc}`], ["httpd", "-f", "-p", "80", "-h", "/www"]);
      const inspect = await pm.json(`/containers/${id}/json`);
      const ip = inspect.NetworkSettings.Networks[pm.network.name].IPAddress as string;
      expect(ip.startsWith(pm.network.subnet.replace(/0\/24$/, ""))).toBe(true);
      const [entry] = await instances(api, svc, 1);
      expect(entry).toMatchObject({ ServiceID: `${HOST}:${name}:80`, ServiceAddress: ip, ServicePort: 80 });
      const body = await waitFor(async () => (await fetch(`http://${ip}:80/`)).text(), { timeout: 10_000, message: "the container address does not serve" });
      expect(body).toBe(INDEX_HTML);
    } finally {
      await p.stop(); // not needed by the later tests: it must not act during them
    }
  }, T);

  test("after the Podman service restarts, registrator reconnects and catches up on what happened meanwhile", async () => {
    const main = await running();
    const before = uniqueName();
    const svcBefore = uniqueName("was");
    await runContainer(before, ["-p", `${await freePort()}:80`, "-e", `SERVICE_NAME=${svcBefore}`]);
    await instances(main.api, svcBefore, 1);
    const mark = main.p.mark();
    // Stop the API service; containers live on under conmon, and the CLI keeps working without it.
    const restarted = pm.restart();
    const name = uniqueName();
    const svc = uniqueName("meanwhile");
    const port = await freePort();
    await runContainer(name, ["-p", `${port}:80`, "-e", `SERVICE_NAME=${svc}`]);
    await pm.podman(["rm", "-f", "-t", "0", before]);
    await restarted;
    await main.p.waitForLine(/Reconnected to Docker/, 30_000, mark);
    const [entry] = await instances(main.api, svc, 1);
    expect(entry).toMatchObject({ ServiceID: `${HOST}:${name}:80`, ServicePort: port });
    await instances(main.api, svcBefore, 0);
    // And live events flow again.
    await pm.podman(["stop", "-t", "0", name]);
    await instances(main.api, svc, 0);
  }, T);

  describe("-deregister on-success", () => {
    let kept: { p: Proc; api: string };

    // Exits with `code` on SIGTERM (busybox sh as PID 1 with a trap; `wait` returns on the signal).
    const exitsOnTerm = (code: number) => ["sh", "-c", `trap 'exit ${code}' TERM; sleep 3600 & wait`];

    test("exit 3 keeps the service; Podman reports it as die with exitCode and containerExitCode", async () => {
      kept = await registrator(["-ip", "127.0.0.1", "-deregister", "on-success"]);
      const name = uniqueName();
      const svc = uniqueName("fail");
      const port = await freePort();
      const id = await runContainer(name, ["-p", `${port}:80`, "-e", `SERVICE_NAME=${svc}`], exitsOnTerm(3));
      await instances(kept.api, svc, 1);
      const since = Math.floor(Date.now() / 1000) - 60;
      const mark = kept.p.mark();
      await pm.podman(["kill", "--signal", "TERM", name]);
      await kept.p.waitForLine(new RegExp(`kept: ${id.slice(0, 12)} exited with code 3`), 10_000, mark);
      expect((await pm.json(`/containers/${id}/json`)).State).toMatchObject({ Running: false, ExitCode: 3 });
      const [entry] = await instances(kept.api, svc, 1);
      expect(entry).toMatchObject({ ServiceID: `${HOST}:${name}:80`, ServicePort: port });

      // What registrator saw: Podman 4.x's compat stream says "die" (its own name is "died") and
      // carries the code twice, as Docker's exitCode and as Podman's containerExitCode.
      const filters = encodeURIComponent(JSON.stringify({ type: ["container"], container: [id] }));
      const die = await firstEvent(`/events?since=${since}&filters=${filters}`, (ev) => ev.Action === "die" || ev.Action === "died");
      const attrs = die.Actor.Attributes;
      expect(attrs.exitCode ?? attrs.containerExitCode).toBe("3");
    }, T);

    test("exit 0 removes the service", async () => {
      const name = uniqueName();
      const svc = uniqueName("done");
      const port = await freePort();
      const id = await runContainer(name, ["-p", `${port}:80`, "-e", `SERVICE_NAME=${svc}`], exitsOnTerm(0));
      await instances(kept.api, svc, 1);
      await pm.podman(["kill", "--signal", "TERM", name]);
      await instances(kept.api, svc, 0);
      expect((await pm.json(`/containers/${id}/json`)).State).toMatchObject({ Running: false, ExitCode: 0 });
    }, T);
  });
});

describe.skipIf(!!skip)("registrator on Podman, host network", () => {
  test("a --network host container is registered on its image's EXPOSE port (Podman's inspect leaves ExposedPorts out)", async () => {
    const port = await freePort();
    const image = `localhost/regtest/exposed${port}:latest`;
    await pm.podman(["import", "--change", 'CMD ["/bin/sh"]', "--change", `EXPOSE ${port}/tcp`, "-", image], { stdin: await buildRootTar() });
    const name = uniqueName();
    const svc = uniqueName("hostnet");
    const { api } = await registrator(["-ip", "127.0.0.1"]);
    names.push(name);
    await pm.podman(["run", "-d", "--pull", "never", "--name", name, "--network", "host", "-e", `SERVICE_NAME=${svc}`, image, "sleep", "3600"]);
    const [entry] = await instances(api, svc, 1);
    expect(entry).toMatchObject({ ServiceID: `${HOST}:${name}:${port}`, ServiceAddress: "127.0.0.1", ServicePort: port });
  }, T);
});

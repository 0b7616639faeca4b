// Issue 9 end to end: real Consul clients against registrator's embedded registry (local://),
// run as a user would: registrator as a child process on the private dockerd, and
// VictoriaMetrics (consul_sd_configs, with the README's snippet), Prometheus (scraping /metrics)
// and python-consul as child processes on loopback.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { activeTargets, python, readmeConsulSdSnippet, type Scraper, startPrometheus, startVictoriaMetrics } from "../support/clients.ts";
import { freePort, type Proc, waitFor } from "../support/proc.ts";
import { e2eFile, uniqueName } from "./helpers.ts";

const file = e2eFile();

describe("VictoriaMetrics consul_sd_configs (the README's snippet, no datacenter)", () => {
  let vm: Scraper;
  let httpPort: number;
  let reg: Proc | undefined;
  const snippet = readmeConsulSdSnippet();

  const startReg = async () => {
    reg = await file.registrator(["-http", `127.0.0.1:${httpPort}`, "-ip", "127.0.0.1"]);
    return reg;
  };
  const stopReg = async () => {
    await reg?.stop();
    reg = undefined;
  };

  beforeAll(async () => {
    httpPort = await freePort();
    expect(snippet).toContain("server: 127.0.0.1:8485");
    expect(snippet).not.toContain("datacenter");
    vm = await startVictoriaMetrics(snippet.replace("127.0.0.1:8485", `127.0.0.1:${httpPort}`));
  });
  afterAll(async () => {
    await stopReg();
    await vm?.stop();
  });

  /** A container publishing port 80 with these tags; returns its service name and host port. */
  async function container(tags: string) {
    const service = uniqueName("vm");
    const port = await freePort();
    const name = await file.container(["-p", `${port}:80`, "-e", `SERVICE_NAME=${service}`, "-e", `SERVICE_TAGS=${tags}`]);
    return { name, service, port, address: `127.0.0.1:${port}` };
  }
  const addresses = async () => (await activeTargets(vm)).map((t) => t.discoveredLabels.__address__);
  const disappears = (address: string) =>
    waitFor(async () => !(await addresses()).includes(address), { timeout: 30_000, interval: 200, message: `target ${address} stayed after docker stop` });
  const appears = (address: string, timeout = 30_000) =>
    waitFor(async () => (await addresses()).includes(address), { timeout, interval: 200, message: `target ${address} never appeared in VictoriaMetrics` });

  test("containers carrying both tags become targets with the right address; a stopped one disappears", async () => {
    await startReg();
    const both = await container("web,prod");
    const onlyWeb = await container("web");
    await appears(both.address, 60_000);
    const target = (await activeTargets(vm)).find((t) => t.discoveredLabels.__address__ === both.address)!;
    expect(target.labels.service).toBe(both.service);
    expect(target.discoveredLabels.__meta_consul_dc).toBe("dc1");
    expect(await addresses()).not.toContain(onlyWeb.address);
    await file.e.dockerd.docker(["stop", "-t", "0", both.name]);
    await disappears(both.address);
  }, 120_000);

  test("a container started while registrator restarts appears within 30 s of its return", async () => {
    if (!reg?.running) await startReg();
    await stopReg();
    const c = await container("prod,web");
    await startReg();
    await appears(c.address);
  }, 120_000);

  test("five restarts in a row: every container started meanwhile is discovered; X-Consul-Index never decreases", async () => {
    if (!reg?.running) await startReg();
    const seen: number[] = [];
    let watching = true;
    // Our own watcher: blocking queries on the service list, across the restarts.
    const watcher = (async () => {
      let index = 0;
      while (watching) {
        try {
          const res = await fetch(`http://127.0.0.1:${httpPort}/v1/catalog/services?index=${index}&wait=2s`);
          await res.arrayBuffer();
          if (res.ok) {
            index = Number(res.headers.get("X-Consul-Index"));
            seen.push(index);
          }
        } catch {
          await new Promise((r) => setTimeout(r, 100)); // registrator is restarting: retry
        }
      }
    })();
    for (let i = 0; i < 5; i++) {
      await stopReg();
      const c = await container("web,prod");
      await startReg();
      await appears(c.address);
    }
    watching = false;
    await watcher;
    expect(seen.length).toBeGreaterThan(5);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
  }, 300_000);
});

describe("Prometheus scrapes /metrics", () => {
  test("up is 1 and registrator_* series are queryable", async () => {
    const port = await freePort();
    await file.registrator(["-http", `127.0.0.1:${port}`]);
    const prom = await startPrometheus(
      ["global:", "  scrape_interval: 1s", "scrape_configs:", "  - job_name: registrator", "    static_configs:", `      - targets: ["127.0.0.1:${port}"]`, ""].join("\n"),
    );
    try {
      const query = async (q: string) => {
        const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`);
        return ((await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data.result;
      };
      const up = await waitFor(async () => (await query('up{job="registrator"}'))[0], { timeout: 60_000, message: "Prometheus never scraped registrator" });
      expect(up.value[1]).toBe("1");
      const series = await waitFor(async () => (await query('{__name__=~"registrator_.+"}')).length > 0 && (await query('{__name__=~"registrator_.+"}')), {
        timeout: 30_000,
        message: "no registrator_* series",
      });
      const names = new Set(series.map((s) => s.metric.__name__));
      expect(names.has("registrator_services_registered")).toBe(true);
      expect(names.has("registrator_queue_depth")).toBe(true);
    } finally {
      await prom.stop();
    }
  }, 120_000);
});

describe("python-consul", () => {
  const script = `
import consul, json, sys
c = consul.Consul(host="127.0.0.1", port=int(sys.argv[1]))
print("DC " + c.agent.self()["Config"]["Datacenter"])
print("LEADER " + c.status.leader())
idx, nodes = c.catalog.service(sys.argv[2])
print("FIRST %s %d" % (idx, len(nodes)))
idx2, nodes2 = c.catalog.service(sys.argv[2], index=idx, wait="10m")
print("AFTER %s %s" % (idx2, json.dumps([n["ServicePort"] for n in nodes2])))
`;

  test("agent.self() works; a blocking catalog.service() returns when a container starts", async () => {
    const port = await freePort();
    await file.registrator(["-http", `127.0.0.1:${port}`, "-ip", "127.0.0.1"]);
    const service = uniqueName("py");
    const p = python(script, [String(port), service]);
    try {
      expect((await p.waitForLine(/^DC (\S+)/, 30_000))[1]).toBe("dc1");
      const first = await p.waitForLine(/^FIRST (\d+) (\d+)/, 30_000);
      expect(first[2]).toBe("0");
      const hostPort = await freePort();
      await file.container(["-p", `${hostPort}:80`, "-e", `SERVICE_NAME=${service}`]);
      // wait=10m: only a change wakes the query before this deadline.
      const after = await p.waitForLine(/^AFTER (\d+) (.*)$/, 30_000);
      expect(BigInt(after[1]!)).toBeGreaterThan(BigInt(first[1]!));
      expect(JSON.parse(after[2]!)).toEqual([hostPort]);
      expect(await p.exited).toBe(0);
    } finally {
      await p.stop();
    }
  }, 90_000);

  test("health.service(passing=True) leaves out an unhealthy container (-health auto mirrors Docker's health)", async () => {
    const port = await freePort();
    await file.registrator(["-http", `127.0.0.1:${port}`, "-ip", "127.0.0.1"]);
    const service = uniqueName("pyh");
    const healthy = await freePort();
    const unhealthy = await freePort();
    const hc = (cmd: string) => ["--health-cmd", cmd, "--health-interval", "1s", "--health-retries", "1", "--health-start-period", "0s"];
    await file.container(["-p", `${healthy}:80`, "-e", `SERVICE_NAME=${service}`, ...hc("true")]);
    await file.container(["-p", `${unhealthy}:80`, "-e", `SERVICE_NAME=${service}`, ...hc("false")]);
    const p = python(
      `
import consul, json, sys, time
c = consul.Consul(host="127.0.0.1", port=int(sys.argv[1]))
index = None
while True:
    index, all_ = c.health.service(sys.argv[2], index=index, wait="5s")
    _, ok = c.health.service(sys.argv[2], passing=True)
    ports = lambda entries: json.dumps(sorted(e["Service"]["Port"] for e in entries), separators=(",", ":"))
    print("ALL %s PASSING %s" % (ports(all_), ports(ok)))
`,
      [String(port), service],
    );
    try {
      // Both instances are registered; only the healthy one is passing (once Docker has probed both).
      const want = `ALL ${JSON.stringify([healthy, unhealthy].sort((a, b) => a - b))} PASSING ${JSON.stringify([healthy])}`;
      await p.waitForLine(new RegExp(`^${want.replace(/[[\]]/g, "\\$&")}$`), 60_000);
    } finally {
      await p.stop();
    }
  }, 90_000);
});

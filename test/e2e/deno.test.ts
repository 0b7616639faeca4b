// The same start/stop end to end, with registrator running from source under Deno.
import { expect, test } from "bun:test";
import { e2eFile, startStopRoundTrip } from "./helpers.ts";

const f = e2eFile();

test("under Deno: docker run registers in etcd, docker stop removes it", async () => {
  const prefix = `/deno${process.pid}`;
  const reg = await f.registrator(["-ip", "127.0.0.1", `etcd://${f.e.etcd.endpoint}${prefix}`], { runtime: "deno" });
  expect(reg.lines.join("\n")).toContain("on deno");
  await startStopRoundTrip(f, prefix);
});

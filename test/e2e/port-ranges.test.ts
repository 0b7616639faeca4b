// Port ranges in metadata keys end to end (real dockerd, etcd v3): SERVICE_<from>-<to>_<key>
// applies to every exposed port in the range, and the single port's own key wins.
import { expect, test } from "bun:test";
import { waitFor } from "../support/proc.ts";
import { HOST, e2eFile, keysUnder } from "./helpers.ts";

const file = e2eFile();

test("SERVICE_7000-7001_NAME names both ports, SERVICE_7001_NAME wins for its port, 7100 keeps the group name", async () => {
  const prefix = `/ranges${process.pid}`;
  await file.registrator(["-internal", `etcd://${file.e.etcd.endpoint}${prefix}`]);
  const name = await file.container(
    ["--expose", "7000", "--expose", "7001", "--expose", "7100", "-l", "SERVICE_7000-7001_NAME=pool", "-l", "SERVICE_7001_NAME=admin"],
    undefined,
    "ranged",
  );
  const want = [`${prefix}/admin/${HOST}:${name}:7001`, `${prefix}/busybox-7100/${HOST}:${name}:7100`, `${prefix}/pool/${HOST}:${name}:7000`];
  await waitFor(async () => Object.keys(await keysUnder(file.e, `${prefix}/`)).length === 3, { timeout: 15_000, interval: 20, message: `three keys under ${prefix}` });
  expect(Object.keys(await keysUnder(file.e, `${prefix}/`)).sort()).toEqual(want);
});

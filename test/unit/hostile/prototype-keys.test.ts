// Container-controlled strings used as keys: labels, env, exposed ports and networks named after
// Object.prototype members must be plain entries (or absent), never inherited functions.
import { describe, expect, test } from "bun:test";
import { validInspect } from "../../../src/docker/schema.ts";
import { deriveServices } from "../../../src/services/derive.ts";
import { compileTags } from "../../../src/services/template.ts";
import { container, dualStack } from "../builders.ts";

const PROTO_NAMES = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "__defineGetter__", "isPrototypeOf"];

/** An object as JSON.parse makes it from Docker's text: "__proto__" is an own key there. */
const jsonObject = (entries: Array<[string, unknown]>) => JSON.parse(`{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`);

/** A builder container sent through JSON and validInspect, as the Docker client receives it. */
function fromDocker(spec: Parameters<typeof container>[0] & { rawLabels?: Array<[string, string]> }) {
  const raw = JSON.parse(JSON.stringify(container(spec)));
  if (spec.rawLabels) raw.Config.Labels = jsonObject(spec.rawLabels);
  const r = validInspect(raw);
  if ("error" in r) throw new Error(r.error);
  return r.data;
}

const opts = { hostname: "host1", defaultHostIp: "192.168.1.10", internal: false, explicit: false, allowScriptChecks: false };

describe("prototype member names as keys", () => {
  for (const name of PROTO_NAMES) {
    test(`-useIpFromLabel ${name} on a container without that label: the port is still registered with the host IP`, () => {
      const c = fromDocker({ ports: { "80/tcp": dualStack("8080") } });
      const r = deriveServices(c, { ...opts, useIpFromLabel: name });
      expect(r.services.map((s) => s.ip)).toEqual(["192.168.1.10"]);
    });

    test(`a label named ${name} is read as that label`, () => {
      const c = fromDocker({ ports: { "80/tcp": dualStack("8080") }, rawLabels: [[name, "10.1.2.3"]] });
      expect(Object.getPrototypeOf(c.Config.Labels)).toBeNull();
      expect(c.Config.Labels?.[name]).toBe("10.1.2.3");
      expect(deriveServices(c, { ...opts, useIpFromLabel: name }).services.map((s) => s.ip)).toEqual(["10.1.2.3"]);
    });

    test(`SERVICE_${name} and SERVICE_80_${name} become attrs, not crashes`, () => {
      const c = fromDocker({
        ports: { "80/tcp": dualStack("8080") },
        env: { [`SERVICE_${name}`]: "a", [`SERVICE_80_${name}`]: "b" },
        rawLabels: [[`SERVICE_${name.toUpperCase()}`, "c"], [name, "d"]],
      });
      const r = deriveServices(c, opts);
      expect(r.services).toHaveLength(1);
      const attrs = r.services[0]!.attrs;
      expect(Object.entries(attrs).every(([, v]) => typeof v === "string")).toBe(true);
    });

    test(`network and port keys named ${name}`, () => {
      const c = fromDocker({
        ports: { "80/tcp": dualStack("8080"), [name]: null },
        networkMode: name,
        networks: { [name]: { IPAddress: "172.30.0.2" } },
      });
      const r = deriveServices(c, { ...opts, internal: true });
      for (const s of r.services) expect(typeof s.ip).toBe("string");
    });

    test(`-tags template reaching .Config.Labels.${name}`, () => {
      const c = fromDocker({ ports: { "80/tcp": dualStack("8080") } });
      const tags = compileTags(`x-{{.Config.Labels.${name}}},{{index .Config.Labels "${name}"}}`);
      const out = tags(c);
      for (const t of out) expect(t).not.toMatch(/function|native code|\[object/);
    });
  }
});

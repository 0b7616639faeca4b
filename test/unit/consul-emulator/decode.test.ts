// Go-compatible decoding (protocols.md 2.3): syntax errors, unknown fields at every level,
// wrong types, case-insensitive keys and snake-case aliases, durations.

import { describe, expect, test } from "bun:test";
import { GoDecodeError, decodeGoBody } from "../../support/consul/godecode.ts";
import { formatGoDuration, parseGoDuration } from "../../support/consul/goduration.ts";
import { CheckUpdateSchema, type ServiceDef, ServiceDefinitionSchema } from "../../support/consul/schemas.ts";

const decodeService = (text: string) => decodeGoBody<ServiceDef>(ServiceDefinitionSchema, text);
const errorOf = (text: string) => {
  try {
    decodeService(text);
  } catch (e) {
    if (e instanceof GoDecodeError) return e.message;
    throw e;
  }
  return "no error";
};

describe("JSON syntax errors read like Go's decoder", () => {
  test.each([
    ["", "EOF"],
    [" \n\t", "EOF"],
    ["{", "unexpected EOF"],
    ['{"Name":"web"', "unexpected EOF"],
    ['{"Name":', "unexpected EOF"],
    ["{'Name':1}", "invalid character '\\'' looking for beginning of object key string"],
    ["x", "invalid character 'x' looking for beginning of value"],
    ['{"Name" "web"}', "invalid character '\"' after object key"],
    ['{"Name":"web" "Port":1}', "invalid character '\"' after object key:value pair"],
    ['{"Tags":["a" "b"]}', "invalid character '\"' after array element"],
    ['{"Name":tru}', "invalid character '}' in literal true (expecting 'e')"],
    ['{"Name":nul}', "invalid character '}' in literal null (expecting 'l')"],
    ['{"Port":-}', "invalid character '}' in numeric literal"],
    ['{"Port":1.}', "invalid character '}' after decimal point in numeric literal"],
    ['{"Port":1e}', "invalid character '}' in exponent of numeric literal"],
    ['{"Name":"a\\q"}', "invalid character 'q' in string escape code"],
    ['{"Name":"\\u12x4"}', "invalid character 'x' in \\u hexadecimal character escape"],
    ['{"Name":"a\nb"}', "invalid character '\\n' in string literal"],
  ])("%j → %s", (body, message) => {
    expect(errorOf(body)).toBe(message);
  });

  test("bytes after the first value are ignored, as json.Decoder does", () => {
    expect(decodeService('{"Name":"web"} and more').Name).toBe("web");
  });

  test("null decodes to the zero value", () => {
    expect(decodeService("null").Name).toBe("");
  });
});

describe("unknown fields are rejected at every level", () => {
  test.each([
    ['{"Name":"web","Service":"web"}', 'json: unknown field "Service"'],
    ['{"Name":"web","Datacenter":"dc1"}', 'json: unknown field "Datacenter"'],
    ['{"Name":"web","Check":{"ID":"x","TTL":"10s"}}', 'json: unknown field "ID"'],
    ['{"Name":"web","Checks":[{"TTL":"10s"},{"Foo":1}]}', 'json: unknown field "Foo"'],
    ['{"Name":"web","TaggedAddresses":{"lan":{"Address":"1.2.3.4","Bogus":1}}}', 'json: unknown field "Bogus"'],
    ['{"Name":"web","Weights":{"Passing":1,"Critical":1}}', 'json: unknown field "Critical"'],
  ])("%s", (body, message) => {
    expect(errorOf(body)).toBe(message);
  });

  test("an error inside a Check wins over an earlier top-level one (nested UnmarshalJSON aborts)", () => {
    expect(errorOf('{"Foo":1,"Check":{"Bar":1}}')).toBe('json: unknown field "Bar"');
  });

  test("otherwise the first error in document order wins", () => {
    expect(errorOf('{"Foo":1,"Port":"80"}')).toBe('json: unknown field "Foo"');
    expect(errorOf('{"Port":"80","Foo":1}')).toBe("json: cannot unmarshal string into Go struct field .Port of type int");
  });
});

describe("wrong types are UnmarshalTypeErrors", () => {
  test.each([
    ['{"Port":"80"}', "json: cannot unmarshal string into Go struct field .Port of type int"],
    ['{"Port":80.5}', "json: cannot unmarshal number 80.5 into Go struct field .Port of type int"],
    ['{"Port":1e3}', "json: cannot unmarshal number 1e3 into Go struct field .Port of type int"],
    ['{"Name":5}', "json: cannot unmarshal number into Go struct field .Name of type string"],
    ['{"Tags":"a,b"}', "json: cannot unmarshal string into Go struct field .Tags of type []string"],
    ['{"Tags":[1]}', "json: cannot unmarshal number into Go struct field .Tags of type string"],
    ['{"Meta":{"a":1}}', "json: cannot unmarshal number into Go struct field .Meta of type string"],
    ['{"Meta":[]}', "json: cannot unmarshal array into Go struct field .Meta of type map[string]string"],
    ['{"EnableTagOverride":"true"}', "json: cannot unmarshal string into Go struct field .EnableTagOverride of type bool"],
    ['{"Weights":{"Passing":"1"}}', "json: cannot unmarshal string into Go struct field Weights.Weights.Passing of type int"],
    ['{"TaggedAddresses":{"lan":{"Port":"1"}}}', "json: cannot unmarshal string into Go struct field ServiceAddress.TaggedAddresses.Port of type int"],
    ['{"Checks":{}}', "json: cannot unmarshal object into Go struct field .Checks of type structs.CheckTypes"],
    ['{"Check":{"TTL":"1s","Status":1}}', "json: cannot unmarshal number into Go struct field .Check of type string"],
    ['{"Check":{"TTL":"1s","Header":{"X":"1"}}}', "json: cannot unmarshal string into Go struct field .Check of type []string"],
    ['{"Checks":["x"]}', "json: cannot unmarshal string into Go struct field .Checks of type structs.CheckType"],
    ["[]", "json: cannot unmarshal array into Go value of type structs.ServiceDefinition"],
  ])("%s", (body, message) => {
    expect(errorOf(body)).toBe(message);
  });
});

describe("field names", () => {
  test("match case-insensitively", () => {
    const d = decodeService('{"name":"web","ID":"w1","PORT":80,"tags":["a"],"check":{"ttl":"10s","CHECKID":"c"}}');
    expect(d).toMatchObject({ Name: "web", ID: "w1", Port: 80, Tags: ["a"] });
    expect(d.Check).toMatchObject({ CheckID: "c", TTL: 10_000_000_000n });
  });

  test("snake-case aliases of the service and the check", () => {
    const d = decodeService(
      JSON.stringify({
        Name: "web",
        enable_tag_override: true,
        tagged_addresses: { wan: { Address: "203.0.113.5", Port: 1 } },
        Check: { args: ["/bin/true"], interval: "10s", deregister_critical_service_after: "90s", tls_skip_verify: true, tls_server_name: "x", docker_container_id: "c1", grpc_use_tls: true, service_id: "ignored" },
      }),
    );
    expect(d.EnableTagOverride).toBe(true);
    expect(d.TaggedAddresses).toEqual({ wan: { Address: "203.0.113.5", Port: 1 } });
    expect(d.Check).toMatchObject({ ScriptArgs: ["/bin/true"], DeregisterCriticalServiceAfter: 90_000_000_000n, TLSSkipVerify: true, TLSServerName: "x", DockerContainerID: "c1", GRPCUseTLS: true });
    expect(decodeService('{"Check":{"script_args":["a"],"TTL":"1s"}}').Check?.ScriptArgs).toEqual(["a"]);
  });

  test("ServiceID inside a check is tolerated and ignored", () => {
    expect(decodeService('{"Name":"web","Check":{"ServiceID":"x","TTL":"5s"}}').Check?.TTL).toBe(5_000_000_000n);
  });
});

describe("durations", () => {
  test("Go duration strings or JSON numbers (nanoseconds)", () => {
    const d = decodeService('{"Check":{"Interval":"1m30s","Timeout":2000000000,"DeregisterCriticalServiceAfter":"5m"}}');
    expect(d.Check).toMatchObject({ Interval: 90_000_000_000n, Timeout: 2_000_000_000n, DeregisterCriticalServiceAfter: 300_000_000_000n });
  });

  test.each([
    ['"10"', 'time: missing unit in duration "10"'],
    ['"10x"', 'time: unknown unit "x" in duration "10x"'],
    ['"abc"', 'time: invalid duration "abc"'],
    ['""', 'time: invalid duration ""'],
    ['"."', 'time: invalid duration "."'],
  ])("TTL %s → %s", (value, message) => {
    expect(errorOf(`{"Check":{"TTL":${value}}}`)).toBe(message);
  });

  test("other JSON types are ignored like the agent's interface{} switch", () => {
    expect(decodeService('{"Check":{"TTL":true}}').Check?.TTL).toBe(0n);
  });

  test.each([
    ["0", 0n],
    ["1.5h", 5_400_000_000_000n],
    ["-2m", -120_000_000_000n],
    ["+3s", 3_000_000_000n],
    ["1h2m3.004s", 3_723_004_000_000n],
    ["250ms", 250_000_000n],
    ["7us", 7_000n],
    ["7\u00b5s", 7_000n],
    ["9ns", 9n],
    [".5s", 500_000_000n],
  ])("parse %s", (text, ns) => {
    expect(parseGoDuration(text)).toBe(ns);
  });

  test.each([
    [0n, "0s"],
    [10_000_000_000n, "10s"],
    [90_000_000_000n, "1m30s"],
    [3_600_000_000_000n, "1h0m0s"],
    [1_500_000_000n, "1.5s"],
    [500_000_000n, "500ms"],
    [1_500n, "1.5\u00b5s"],
    [42n, "42ns"],
    [-61_000_000_000n, "-1m1s"],
  ])("format %p → %s", (ns, text) => {
    expect(formatGoDuration(ns)).toBe(text);
  });
});

describe("check update body", () => {
  test("agent.checkUpdate is a named struct", () => {
    expect(() => decodeGoBody(CheckUpdateSchema, '{"Status":1}')).toThrow(
      "json: cannot unmarshal number into Go struct field checkUpdate.Status of type string",
    );
    expect(() => decodeGoBody(CheckUpdateSchema, '{"Note":"x"}')).toThrow('json: unknown field "Note"');
  });
});

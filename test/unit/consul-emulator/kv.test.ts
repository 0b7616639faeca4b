// KV store (protocols.md 2.8).

import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { type ConsulEmulator, startConsulEmulator } from "../../support/consul/index.ts";
import { blockedAt, call } from "./helpers.ts";

const emu: ConsulEmulator = await startConsulEmulator({ kvMaxValueSize: 64 });
afterAll(() => emu.stop());
beforeEach(() => emu.restart());

interface Entry {
  Key: string;
  Value: string | null;
  Flags: number;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
}
const entries = async (path: string) => (await call(emu, "GET", path)).json<Entry[]>();

describe("PUT and GET", () => {
  test("PUT takes the raw body and answers true; GET gives base64 with indexes", async () => {
    const put = await call(emu, "PUT", "/v1/kv/app/web/w1", "10.0.0.1:80");
    expect(put).toMatchObject({ status: 200, text: "true" });
    const [e] = await entries("/v1/kv/app/web/w1");
    expect(e).toMatchObject({ Key: "app/web/w1", Value: Buffer.from("10.0.0.1:80").toString("base64"), Flags: 0, LockIndex: 0 });
    expect(e?.CreateIndex).toBe(e?.ModifyIndex as number);
    expect(emu.kv()).toEqual({ "app/web/w1": "10.0.0.1:80" });
  });

  test("bytes are kept as sent (not JSON, not base64)", async () => {
    const bytes = new Uint8Array([0, 255, 1, 128]);
    await call(emu, "PUT", "/v1/kv/bin", bytes);
    const raw = await emu.fetch("/v1/kv/bin?raw");
    expect(new Uint8Array(await raw.arrayBuffer())).toEqual(bytes);
    expect(raw.headers.get("Content-Type")).toBe("text/plain");
  });

  test("an empty body stores a null Value", async () => {
    await call(emu, "PUT", "/v1/kv/empty", "");
    expect((await entries("/v1/kv/empty"))[0]?.Value).toBeNull();
  });

  test("?flags= is stored; a bad number is Go's strconv error with 500", async () => {
    await call(emu, "PUT", "/v1/kv/f?flags=18446744073709551615", "x");
    const text = (await call(emu, "GET", "/v1/kv/f")).text;
    expect(text).toContain('"Flags":18446744073709551615');
    expect(await call(emu, "PUT", "/v1/kv/f?flags=x", "x")).toMatchObject({ status: 500, text: 'strconv.ParseUint: parsing "x": invalid syntax' });
  });

  test("missing key → 404 with an empty body and X-Consul-Index", async () => {
    const r = await call(emu, "GET", "/v1/kv/nope");
    expect(r).toMatchObject({ status: 404, text: "" });
    expect(Number(r.headers.get("X-Consul-Index"))).toBeGreaterThanOrEqual(1);
  });

  test("empty key → 400 Missing key name (GET, PUT, DELETE)", async () => {
    expect(await call(emu, "GET", "/v1/kv/")).toMatchObject({ status: 400, text: "Missing key name" });
    expect(await call(emu, "PUT", "/v1/kv/", "x")).toMatchObject({ status: 400, text: "Missing key name" });
    expect(await call(emu, "DELETE", "/v1/kv/")).toMatchObject({ status: 400, text: "Missing key name" });
  });

  test("?recurse lists a prefix in key order; the root is allowed", async () => {
    await call(emu, "PUT", "/v1/kv/p/b", "2");
    await call(emu, "PUT", "/v1/kv/p/a", "1");
    await call(emu, "PUT", "/v1/kv/q", "3");
    expect((await entries("/v1/kv/p/?recurse")).map((e) => e.Key)).toEqual(["p/a", "p/b"]);
    expect((await entries("/v1/kv/?recurse")).map((e) => e.Key)).toEqual(["p/a", "p/b", "q"]);
    expect((await call(emu, "GET", "/v1/kv/zz/?recurse")).status).toBe(404);
  });

  test("?keys with and without separator", async () => {
    for (const k of ["s/web/1", "s/web/2", "s/db/1", "s/top"]) await call(emu, "PUT", `/v1/kv/${k}`, "v");
    expect((await call(emu, "GET", "/v1/kv/s/?keys")).json()).toEqual(["s/db/1", "s/top", "s/web/1", "s/web/2"]);
    expect((await call(emu, "GET", "/v1/kv/s/?keys&separator=/")).json()).toEqual(["s/db/", "s/top", "s/web/"]);
    expect((await call(emu, "GET", "/v1/kv/none/?keys")).status).toBe(404);
    await emu.restart();
    expect((await call(emu, "GET", "/v1/kv/?keys")).json()).toEqual([]);
  });

  test("body larger than kv_max_value_size → 413", async () => {
    const r = await call(emu, "PUT", "/v1/kv/big", "x".repeat(65));
    expect(r.status).toBe(413);
    expect(r.text).toBe(
      "Request body(65 bytes) too large, max size: 64 bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.",
    );
  });

  test("wrong method → 405 with Allow", async () => {
    const r = await call(emu, "POST", "/v1/kv/x", "v");
    expect(r).toMatchObject({ status: 405, text: "method POST not allowed" });
    expect(r.headers.get("Allow")).toBe("OPTIONS,GET,PUT,DELETE");
  });
});

describe("check-and-set", () => {
  test("cas=0 creates only when absent", async () => {
    expect((await call(emu, "PUT", "/v1/kv/c?cas=0", "1")).text).toBe("true");
    expect((await call(emu, "PUT", "/v1/kv/c?cas=0", "2")).text).toBe("false");
    expect(emu.kv().c).toBe("1");
  });

  test("cas=<ModifyIndex> updates only that version", async () => {
    await call(emu, "PUT", "/v1/kv/c", "1");
    const idx = (await entries("/v1/kv/c"))[0]?.ModifyIndex as number;
    expect((await call(emu, "PUT", `/v1/kv/c?cas=${idx + 100}`, "x")).text).toBe("false");
    expect((await call(emu, "PUT", `/v1/kv/c?cas=${idx}`, "2")).text).toBe("true");
    expect((await call(emu, "PUT", `/v1/kv/c?cas=${idx}`, "3")).text).toBe("false");
    expect(emu.kv().c).toBe("2");
  });

  test("conflicting flags → 400 with the query", async () => {
    const r = await call(emu, "PUT", "/v1/kv/c?cas=1&acquire=s", "x");
    expect(r).toMatchObject({ status: 400, text: "Conflicting flags: acquire=s&cas=1\n" });
  });

  test("locks need sessions, which the emulator does not have", async () => {
    expect(await call(emu, "PUT", "/v1/kv/c?acquire=abc", "x")).toMatchObject({ status: 500, text: 'Invalid session "abc"' });
  });
});

describe("DELETE", () => {
  test("deletes one key → true, also when absent", async () => {
    await call(emu, "PUT", "/v1/kv/d/a", "1");
    await call(emu, "PUT", "/v1/kv/d/ab", "1");
    expect((await call(emu, "DELETE", "/v1/kv/d/a")).text).toBe("true");
    expect((await call(emu, "DELETE", "/v1/kv/d/a")).text).toBe("true");
    expect(Object.keys(emu.kv())).toEqual(["d/ab"]);
  });

  test("?recurse deletes a prefix", async () => {
    for (const k of ["d/1", "d/2", "e/1"]) await call(emu, "PUT", `/v1/kv/${k}`, "v");
    expect((await call(emu, "DELETE", "/v1/kv/d/?recurse")).text).toBe("true");
    expect(Object.keys(emu.kv())).toEqual(["e/1"]);
  });

  test("?cas deletes only that version; recurse with cas conflicts", async () => {
    await call(emu, "PUT", "/v1/kv/d", "v");
    const idx = (await entries("/v1/kv/d"))[0]?.ModifyIndex as number;
    expect((await call(emu, "DELETE", `/v1/kv/d?cas=${idx + 1}`)).text).toBe("false");
    expect((await call(emu, "DELETE", `/v1/kv/d?cas=${idx}`)).text).toBe("true");
    expect(emu.kv()).toEqual({});
    expect((await call(emu, "DELETE", "/v1/kv/d?recurse&cas=1")).status).toBe(400);
  });
});

describe("blocking reads", () => {
  test("GET ?index= returns when the KV table changes", async () => {
    await call(emu, "PUT", "/v1/kv/w", "1");
    const first = await call(emu, "GET", "/v1/kv/w");
    const idx = Number(first.headers.get("X-Consul-Index"));
    const pending = call(emu, "GET", `/v1/kv/w?index=${idx}&wait=5s`);
    await blockedAt(emu, "/v1/kv/w");
    await call(emu, "PUT", "/v1/kv/w", "2");
    const r = await pending;
    expect(Number(r.headers.get("X-Consul-Index"))).toBeGreaterThan(idx);
    expect(r.json<Entry[]>()[0]?.Value).toBe(Buffer.from("2").toString("base64"));
  });

  test("a blocking read of a missing key wakes with 404 once something changes", async () => {
    const idx = Number((await call(emu, "GET", "/v1/kv/missing")).headers.get("X-Consul-Index"));
    const pending = call(emu, "GET", `/v1/kv/missing?index=${idx}&wait=5s`);
    await call(emu, "PUT", "/v1/kv/other", "x");
    const r = await pending;
    expect(r.status).toBe(404);
    expect(Number(r.headers.get("X-Consul-Index"))).toBeGreaterThan(idx);
  });
});

describe("optional key validation (Consul main's validateKVKey)", () => {
  test("refuses keys outside ,-_./ and traversal", async () => {
    const e = await startConsulEmulator({ kvKeyValidation: true });
    try {
      expect(await call(e, "PUT", "/v1/kv/reg/web/host:web:80", "x")).toMatchObject({
        status: 400,
        text: "key contains invalid characters. Only alphanumeric characters and ,-_./ are allowed",
      });
      expect(await call(e, "PUT", "/v1/kv/a/..%2Fb", "x")).toMatchObject({ status: 400, text: "URL path contains invalid or encoded traversal sequence" });
      expect((await call(e, "PUT", "/v1/kv/reg/web/web-1", "x")).status).toBe(200);
    } finally {
      await e.stop();
    }
  });
});

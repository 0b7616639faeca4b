import { describe, expect, test } from "bun:test";
import { Backoff, retry, sleep } from "../../src/retry.ts";

describe("Backoff", () => {
  test("doubles from min to max and resets", () => {
    const b = new Backoff({ minMs: 100, maxMs: 500 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 500, 500]);
    b.reset();
    expect(b.next()).toBe(100);
  });
  test("peek does not grow the delay", () => {
    const b = new Backoff({ minMs: 10, maxMs: 1000, factor: 3 });
    expect(b.peek()).toBe(10);
    expect(b.peek()).toBe(10);
    b.next();
    expect(b.peek()).toBe(30);
  });
});

describe("retry", () => {
  test("retries until success and reports each retry", async () => {
    let n = 0;
    const seen: number[] = [];
    const out = await retry(async () => {
      if (++n < 3) throw new Error(`fail ${n}`);
      return "ok";
    }, { retries: -1, delay: 1, onRetry: (_e, attempt) => seen.push(attempt) });
    expect(out).toBe("ok");
    expect(seen).toEqual([0, 1]);
  });
  test("gives up after the retries with the last error", async () => {
    let n = 0;
    await expect(retry(async () => {
      throw new Error(`fail ${++n}`);
    }, { retries: 2, delay: new Backoff({ minMs: 1, maxMs: 2 }) })).rejects.toThrow("fail 3");
  });
  test("a fatal error is thrown at once", async () => {
    let n = 0;
    await expect(retry(async () => {
      n++;
      throw new TypeError("bad config");
    }, { retries: -1, delay: 1, fatal: (e) => e instanceof TypeError })).rejects.toThrow("bad config");
    expect(n).toBe(1);
  });
  test("an abort ends the wait and the loop", async () => {
    const ac = new AbortController();
    let n = 0;
    const p = retry(async () => {
      n++;
      throw new Error("down");
    }, { retries: -1, delay: 60_000, signal: ac.signal, onRetry: () => ac.abort() });
    await expect(p).rejects.toThrow("down");
    expect(n).toBe(1);
  });
  test("sleep resolves at once on an aborted signal", async () => {
    const ac = new AbortController();
    ac.abort();
    await sleep(60_000, ac.signal);
  });
});

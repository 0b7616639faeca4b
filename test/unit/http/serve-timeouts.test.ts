// The Bun runtime's server: idle keep-alive connections are closed after idleTimeout, while a
// request marked long-poll (a Consul blocking query) is never cut, however long it waits.
import { describe, expect, test } from "bun:test";
import { isLongPoll } from "../../../src/http/host-guard.ts";
import { bunRuntime } from "../../../src/runtime/bun.ts";
import { waitFor } from "../../support/proc.ts";

describe("serve: idle timeout and long polls", () => {
  test("a blocking query outlives the idle timeout; an idle keep-alive connection is closed", async () => {
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    const server = await bunRuntime().serve(
      async (req) => {
        if (new URL(req.url).searchParams.get("index")) await released;
        return new Response("done");
      },
      { hostname: "127.0.0.1", port: 0, idleTimeout: 1, longPoll: isLongPoll },
    );
    try {
      // The long poll waits until the test releases it, long after the 1 s idle timeout (Bun enforces it with a coarse timer: within ~5 s).
      let answered = false;
      const poll = fetch(`http://127.0.0.1:${server.port}/v1/catalog/services?index=5`).then(async (r) => ((answered = true), r.text()));
      const opened = Date.now();
      await waitFor(() => Date.now() - opened > 9000, { timeout: 20_000, interval: 100 });
      expect(answered).toBe(false);
      release();
      expect(await poll).toBe("done");

      // A raw keep-alive connection that sends one request and then nothing is closed by the server.
      let closed = false;
      let received = "";
      const socket = await Bun.connect({
        hostname: "127.0.0.1",
        port: server.port,
        socket: {
          data: (_s, d) => void (received += d.toString()),
          close: () => void (closed = true),
        },
      });
      socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
      await waitFor(() => received.includes("done"), { timeout: 10_000, message: "no answer on the raw connection" });
      await waitFor(() => closed, { timeout: 15_000, message: "the idle connection was never closed" });
    } finally {
      await server.close();
    }
  }, 60_000);

  test("what counts as a long poll", () => {
    const req = (url: string, accept = "") => new Request(url, { headers: accept ? { accept } : {} });
    expect(isLongPoll(req("http://h/v1/health/service/web?index=12&wait=10m"))).toBe(true);
    expect(isLongPoll(req("http://h/v1/events"))).toBe(true);
    expect(isLongPoll(req("http://h/anything", "text/event-stream"))).toBe(true);
    expect(isLongPoll(req("http://h/v1/catalog/services?index="))).toBe(false);
    expect(isLongPoll(req("http://h/metrics"))).toBe(false);
  });
});

// A headless Chromium driven over the Chrome DevTools Protocol (our own small client: one
// WebSocket, JSON commands with ids, flat sessions). Debian's /usr/bin/chromium by default, or
// REGISTRATOR_TEST_CHROMIUM. Started in its own temp profile and stopped by its own PID.
import { existsSync } from "node:fs";
import { skipUnless, spawn, tempDir, type Proc } from "./proc.ts";

export const CHROMIUM = process.env.REGISTRATOR_TEST_CHROMIUM ?? "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  "--remote-debugging-port=0",
];

type Pending = { resolve: (v: any) => void; reject: (e: Error) => void; method: string };
type Listener = (params: any, sessionId?: string) => void;

/** One CDP connection (the browser target); pages are flat sessions on it. */
class Cdp {
  private seq = 0;
  private pending = new Map<number, Pending>();
  private listeners = new Map<string, Set<Listener>>();
  private closed: Error | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.onmessage = (m) => this.receive(String(m.data));
    ws.onclose = () => this.fail(new Error("DevTools connection closed"));
  }

  static async connect(url: string, timeoutMs = 10_000): Promise<Cdp> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Cannot connect to DevTools at ${url}: timed out`)), timeoutMs);
      ws.onopen = () => (clearTimeout(timer), resolve());
      ws.onerror = () => (clearTimeout(timer), reject(new Error(`Cannot connect to DevTools at ${url}`)));
    });
    return new Cdp(ws);
  }

  send<T = any>(method: string, params: object = {}, sessionId?: string, timeoutMs = 30_000): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`DevTools command ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  on(event: string, fn: Listener): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(fn);
    this.listeners.set(event, set);
    return () => set.delete(fn);
  }

  close(): void {
    this.fail(new Error("DevTools connection closed"));
    try {
      this.ws.close();
    } catch {}
  }

  private receive(text: string): void {
    const msg = JSON.parse(text) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: unknown; sessionId?: string };
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`DevTools ${p.method} failed: ${msg.error.message}`));
      else p.resolve(msg.result);
      return;
    }
    if (msg.method) for (const fn of this.listeners.get(msg.method) ?? []) fn(msg.params, msg.sessionId);
  }

  private fail(e: Error): void {
    this.closed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

/** One tab. */
export class Page {
  /** Main-frame navigations since the page was opened (a reload counts). */
  navigations = 0;
  /** Console messages and uncaught exceptions, for failure messages. */
  readonly console: string[] = [];

  constructor(private readonly cdp: Cdp, readonly sessionId: string) {
    cdp.on("Page.frameNavigated", (p, s) => {
      if (s === sessionId && !p.frame.parentId) this.navigations++;
    });
    cdp.on("Runtime.consoleAPICalled", (p, s) => {
      if (s === sessionId) this.console.push(`${p.type}: ${p.args.map((a: any) => a.value ?? a.description ?? "").join(" ")}`);
    });
    cdp.on("Runtime.exceptionThrown", (p, s) => {
      if (s === sessionId) this.console.push(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`);
    });
  }

  private send<T = any>(method: string, params: object = {}): Promise<T> {
    return this.cdp.send<T>(method, params, this.sessionId);
  }

  /** Navigates and waits for the load event. */
  async goto(url: string, timeoutMs = 30_000): Promise<void> {
    let off = () => {};
    const loaded = new Promise<void>((resolve) => {
      off = this.cdp.on("Page.loadEventFired", (_p, s) => s === this.sessionId && resolve());
    });
    try {
      const r = await this.send<{ errorText?: string }>("Page.navigate", { url });
      if (r.errorText) throw new Error(`Cannot open ${url} in Chromium: ${r.errorText}`);
      let timer: Timer | undefined;
      await Promise.race([
        loaded,
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${url} did not finish loading within ${timeoutMs} ms`)), timeoutMs))),
      ]).finally(() => clearTimeout(timer));
    } finally {
      off();
    }
  }

  /** Evaluates a JavaScript expression in the page (promises awaited); returns its JSON value. */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = await this.send<{ result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } }>("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (r.exceptionDetails) throw new Error(`In the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.send<{ data: string }>("Page.captureScreenshot", { format: "png" });
    return Buffer.from(r.data, "base64");
  }

  async setViewport(width: number, height: number): Promise<void> {
    await this.send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
  }
}

export class Browser {
  private constructor(private readonly proc: Proc, private readonly cdp: Cdp, readonly profile: string) {}

  get pid(): number {
    return this.proc.pid;
  }

  static async launch(opts: { timeoutMs?: number } = {}): Promise<Browser> {
    if (!existsSync(CHROMIUM)) throw new Error(`Cannot find Chromium at ${CHROMIUM}: install the chromium package`);
    const profile = tempDir("regtest-chromium-");
    const proc = spawn([CHROMIUM, ...FLAGS, `--user-data-dir=${profile}`, "about:blank"]);
    try {
      const m = await proc.waitForLine(/DevTools listening on (ws:\/\/\S+)/, opts.timeoutMs ?? 30_000);
      return new Browser(proc, await Cdp.connect(m[1]!), profile);
    } catch (e) {
      await proc.stop("SIGKILL");
      throw e;
    }
  }

  /** A new tab with its own CDP session (Page and Runtime domains enabled). */
  async newPage(): Promise<Page> {
    const { targetId } = await this.cdp.send<{ targetId: string }>("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.cdp.send<{ sessionId: string }>("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this.cdp, sessionId);
    await this.cdp.send("Page.enable", {}, sessionId);
    await this.cdp.send("Runtime.enable", {}, sessionId);
    return page;
  }

  /** Asks the browser to close, then stops its process by PID (SIGKILL if it lingers). */
  async close(): Promise<void> {
    await this.cdp.send("Browser.close", {}, undefined, 5000).catch(() => {});
    this.cdp.close();
    await this.proc.stop("SIGTERM", 10_000);
  }
}

/** Why browser tests cannot run here, or false (always false under CI=true). */
export const browserSkip: () => Promise<string | false> = skipUnless("browser", async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Cannot find Chromium at ${CHROMIUM}: install the chromium package`);
});

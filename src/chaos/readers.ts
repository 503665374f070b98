import { request } from "node:http";
import type { Sample } from "./timeline.js";

/** One page read through the load balancer: null on a 200 within the timeout, else why not. */
function readOnce(url: URL, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request(url, { method: "GET", agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      response.on("end", () =>
        resolve(response.statusCode === 200 ? null : `HTTP ${response.statusCode ?? "?"}`),
      );
      response.on("error", (error) => resolve(error.message));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (error) => resolve(error.message));
    req.end();
  });
}

/**
 * Several clients reading pages through the HTTP load balancer, one request after another each (a new
 * connection every time, as a visitor's browser would open), until stopped; every request is a sample.
 */
export class PageReaders {
  private stopping = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly url: URL,
    private readonly onSample: (sample: Sample) => void,
    private readonly timeoutMs = 5_000,
  ) {}

  start(clients: number, maxDurationMs = 600_000): void {
    const started = Date.now();
    for (let i = 0; i < clients; i++)
      this.loops.push(
        (async () => {
          while (!this.stopping && Date.now() - started < maxDurationMs) {
            const error = await readOnce(this.url, this.timeoutMs);
            const ok = error === null;
            this.onSample({ at: Date.now(), ok, ...(error === null ? {} : { error }) });
            // A failure is retried after a short pause, as a person would reload.
            await new Promise((resolve) => setTimeout(resolve, ok ? 20 : 100));
          }
        })(),
      );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }
}

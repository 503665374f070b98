import type { Server } from "node:http";
import { errorMessage } from "../errors.js";
import { serveMetrics } from "./serve.js";

/**
 * A /metrics endpoint that binds when it can: `ensure()` is called every round, and a port still held
 * (a supervisor handing over to the next, a process that has not yet let go) is tried again next
 * round, its cause said once. Metrics never stop what serves them.
 */
export class RetryingMetricsEndpoint {
  private server: Server | null = null;
  private binding = false;
  private closed = false;
  private problem: string | null = null;

  constructor(
    private readonly address: string,
    private readonly port: number,
    private readonly exposition: () => Promise<{ contentType: string; body: string }>,
    private readonly log: (message: string) => void,
  ) {}

  /** Binds unless bound, binding or closed; resolves when this attempt is over (never rejects). */
  ensure(): Promise<void> {
    if (this.server || this.binding || this.closed) return Promise.resolve();
    this.binding = true;
    return serveMetrics(this.address, this.port, this.exposition)
      .then((server) => {
        if (this.closed) server.close();
        else this.server = server;
        this.log(`metrics on http://${this.address}:${this.port}/metrics`);
      })
      .catch((error: unknown) => {
        const problem = `metrics not served yet on ${this.address}:${this.port}: ${errorMessage(error)}`;
        if (problem !== this.problem) this.log(problem);
        this.problem = problem;
      })
      .finally(() => (this.binding = false));
  }

  close(): void {
    this.closed = true;
    this.server?.close();
    this.server = null;
  }
}

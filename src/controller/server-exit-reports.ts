import type { TLSSocket } from "node:tls";
import { describeHandshakeFailure, openWatchChannel } from "../agent/clone-channel.js";
import { WATCH_REQUEST } from "../agent/watch-channel.js";
import { decodeReport } from "../agent/server-watch.js";

/**
 * The controller's side of the agents' server watch (Kubernetes, where no supervisor owns
 * `mariadbd`): one subscription per database pod, kept in step with the pods' addresses. An agent
 * that reports its server gone turns into `onExit`, which the controller treats as the supervisor's
 * crash signal on the local target. Losing a subscription costs nothing but speed: probes still
 * find a dead server, only later.
 */

export interface WatchedInstance {
  name: string;
  address: string;
}

export interface ServerExitReportsOptions {
  /** The watch key (serverWatchKey of the site's clone token). */
  key: Buffer;
  /** The agents' port. */
  port: number;
  onExit(name: string, detail: string): void;
  log(line: string): void;
  now(): number;
  /** The least time between two attempts to subscribe to one agent. */
  retryMs?: number;
}

/** A report line is short; anything longer is not an agent speaking. */
const MAX_LINE_BYTES = 4096;

interface Link {
  address: string;
  socket: TLSSocket | null;
  /** When the last subscription ended (0: never opened). */
  closedAt: number;
  subscribed: boolean;
}

export class ServerExitReports {
  private readonly links = new Map<string, Link>();
  private closed = false;

  constructor(private readonly options: ServerExitReportsOptions) {}

  /** Subscribes to every listed instance's agent not yet followed, and drops the others. */
  track(instances: readonly WatchedInstance[]): void {
    if (this.closed) return;
    const wanted = new Map(instances.filter((i) => i.address !== "").map((i) => [i.name, i.address]));
    for (const [name, link] of this.links) {
      if (wanted.get(name) !== link.address) {
        link.socket?.destroy();
        this.links.delete(name);
      }
    }
    const retryMs = this.options.retryMs ?? 1000;
    for (const [name, address] of wanted) {
      const link = this.links.get(name) ?? { address, socket: null, closedAt: 0, subscribed: false };
      this.links.set(name, link);
      if (link.socket === null && this.options.now() - link.closedAt >= retryMs) this.open(name, link);
    }
  }

  /** Which instances are followed now (for tests and logs). */
  subscribed(): string[] {
    return [...this.links].filter(([, link]) => link.subscribed).map(([name]) => name);
  }

  close(): void {
    this.closed = true;
    for (const link of this.links.values()) link.socket?.destroy();
    this.links.clear();
  }

  private open(name: string, link: Link): void {
    const socket = openWatchChannel(link.address, this.options.port, this.options.key);
    link.socket = socket;
    let buffered = "";
    let answered = false;
    socket.setKeepAlive(true, 5_000);
    socket.on("secureConnect", () => socket.write(`${WATCH_REQUEST}\n`));
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (!answered) {
          answered = true;
          if (line !== "OK") {
            this.options.log(`${name}'s agent refused the server watch: ${line}`);
            socket.destroy();
            return;
          }
          link.subscribed = true;
          this.options.log(`following ${name}'s server through its agent`);
          continue;
        }
        const report = decodeReport(line);
        if (report?.state === "exited")
          this.options.onExit(name, `exited (${report.detail || "its process is gone"})`);
      }
      if (buffered.length > MAX_LINE_BYTES) socket.destroy();
    });
    socket.on("error", (error: Error & { code?: string }) => {
      if (error.code?.startsWith("ERR_SSL"))
        this.options.log(`${name}'s agent: ${describeHandshakeFailure(error)}`);
    });
    socket.on("close", () => {
      if (link.subscribed)
        this.options.log(`no longer following ${name}'s server (the connection to its agent ended)`);
      link.subscribed = false;
      link.socket = null;
      link.closedAt = this.options.now();
    });
  }
}

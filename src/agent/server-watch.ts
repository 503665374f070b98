import { createConnection } from "node:net";
import { errorMessage } from "../errors.js";
import type { HeldSession } from "../mysql/client.js";

/**
 * The agent beside `mariadbd` (in its pod, where no supervisor owns the process) watches the server
 * so that the controller learns of a crash the moment it happens, not three failed probes later.
 *
 * It holds one idle session on the server's Unix socket. When the session ends it asks the socket
 * whether anyone still listens: a refused or missing socket means the process is gone (a crash, a
 * kill, a shutdown), which is the one unambiguous fact worth reporting; a server that only dropped
 * the session (KILL, a timeout, too many connections) is alive, so the agent reconnects and says
 * nothing. A hung server (SIGSTOP) keeps the session open: hangs are the controller's to judge.
 */

export type ServerState = "unknown" | "up" | "exited";

export interface ServerReport {
  state: ServerState;
  /** When the state was learnt (ISO 8601). */
  at: string;
  /** For "exited": what the agent saw, in words. */
  detail: string;
}

export interface ServerWatchDeps {
  /** Opens an idle session on the server's socket (rejects when it cannot). */
  holdSession(): Promise<HeldSession>;
  /** True when nothing accepts connections on the server's socket (the process is gone). */
  socketRefuses(): Promise<boolean>;
  sleep(ms: number): Promise<void>;
  now(): number;
  log(line: string): void;
}

/** Between attempts to reopen the session while the server is down or refusing (bounded waits). */
const RETRY_MS = 200;
/** After the server dropped a live session on purpose: no busy loop if it keeps doing so. */
const REOPEN_PAUSE_MS = 50;

export class ServerWatch {
  private report: ServerReport;
  private readonly listeners = new Set<(report: ServerReport) => void>();
  private running: Promise<void> | null = null;
  private stopped = false;
  private session: HeldSession | null = null;

  constructor(private readonly deps: ServerWatchDeps) {
    this.report = { state: "unknown", at: new Date(deps.now()).toISOString(), detail: "" };
  }

  get current(): ServerReport {
    return this.report;
  }

  /**
   * Calls `listener` with the current report, then with every change. Watching starts with the first
   * subscriber (an agent nobody asks keeps no session open). Returns the unsubscribe function.
   */
  subscribe(listener: (report: ServerReport) => void): () => void {
    this.listeners.add(listener);
    listener(this.report);
    this.running ??= this.watch();
    return () => this.listeners.delete(listener);
  }

  /** Stops watching and drops the session; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.session?.close();
    await this.running;
  }

  private set(state: ServerState, detail: string): void {
    if (state === this.report.state) return;
    this.report = { state, at: new Date(this.deps.now()).toISOString(), detail };
    for (const listener of this.listeners) listener(this.report);
  }

  /** Runs until stop(); every wait in it is bounded. */
  private async watch(): Promise<void> {
    while (!this.stopped) {
      try {
        this.session = await this.deps.holdSession();
      } catch (error) {
        // Only a server seen up can be said to have exited: one not started yet has not crashed.
        if (this.report.state === "up" && (await this.deps.socketRefuses()))
          this.exited(`its socket refuses connections (${errorMessage(error)})`);
        await this.deps.sleep(RETRY_MS);
        continue;
      }
      if (this.stopped) break;
      this.set("up", "");
      const reason = await this.session.ended;
      this.session = null;
      if (this.stopped) break;
      if (await this.deps.socketRefuses())
        this.exited(`its session ended (${reason}) and its socket refuses connections`);
      else await this.deps.sleep(REOPEN_PAUSE_MS);
    }
    this.session?.close();
  }

  private exited(detail: string): void {
    this.deps.log(`mariadbd is gone: ${detail}`);
    this.set("exited", detail);
  }
}

/**
 * Whether a Unix socket has nobody behind it: refused (a dead server's socket file stays) or missing.
 * A connection accepted, or no answer within the timeout (a hung server's backlog), means someone is there.
 */
export function socketRefuses(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    const done = (refused: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(refused);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(false));
    socket.once("error", (error: Error & { code?: string }) =>
      done(error.code === "ECONNREFUSED" || error.code === "ENOENT"),
    );
  });
}

/** The watch protocol's lines (agent → subscriber): `<state> <iso time> <detail>`. */
export function encodeReport(report: ServerReport): string {
  return `${report.state} ${report.at}${report.detail ? ` ${report.detail.replace(/\s+/g, " ")}` : ""}\n`;
}

export function decodeReport(line: string): ServerReport | null {
  const match = /^(unknown|up|exited) (\S+)(?: (.*))?$/.exec(line.trim());
  if (!match) return null;
  return { state: match[1] as ServerState, at: match[2] ?? "", detail: match[3] ?? "" };
}

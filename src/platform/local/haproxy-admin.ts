import { createConnection } from "node:net";

/** One server line of HAProxy's `show stat`: which backend, which server, UP or DOWN, open sessions. */
export interface ServerState {
  backend: string;
  server: string;
  status: string;
  /** Sessions open to it now (`scur`): requests in flight and kept-alive connections. */
  sessions: number;
}

/** Parses `show stat` CSV output into server states (frontend and backend summary rows are skipped). */
export function parseShowStat(csv: string): ServerState[] {
  const lines = csv.split("\n").filter((line) => line.trim() !== "");
  const header = (lines[0] ?? "").replace(/^# /, "").split(",");
  const statusIndex = header.indexOf("status");
  const sessionsIndex = header.indexOf("scur");
  return lines
    .slice(1)
    .map((line) => line.split(","))
    .filter((fields) => fields[1] !== "FRONTEND" && fields[1] !== "BACKEND")
    .map((fields) => ({
      backend: fields[0] ?? "",
      server: fields[1] ?? "",
      status: fields[statusIndex] ?? "",
      sessions: Number(fields[sessionsIndex] ?? 0) || 0,
    }));
}

/**
 * How many client connections wait in each backend's queue (the BACKEND rows' `qcur`), from `show stat`:
 * connections beyond every server's `maxconn` wait there until a slot frees or `timeout queue` ends them.
 */
export function parseBackendQueues(csv: string): Map<string, number> {
  const lines = csv.split("\n").filter((line) => line.trim() !== "");
  const header = (lines[0] ?? "").replace(/^# /, "").split(",");
  const queueIndex = header.indexOf("qcur");
  const queues = new Map<string, number>();
  for (const fields of lines.slice(1).map((line) => line.split(","))) {
    if (fields[1] === "BACKEND") queues.set(fields[0] ?? "", Number(fields[queueIndex] ?? 0) || 0);
  }
  return queues;
}

/** Sends one command to HAProxy's admin socket and returns its answer. */
export function haproxyCommand(socketPath: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let answer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`HAProxy did not answer '${command}' in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => socket.write(`${command}\n`));
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("utf8")));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

/** The process that answered `show info`: a reloaded HAProxy answers from a new worker. */
export function parseInfoPid(info: string): number | null {
  const match = /^Pid: (\d+)$/m.exec(info);
  return match ? Number(match[1]) : null;
}

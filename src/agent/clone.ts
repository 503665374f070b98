import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { HapressError } from "../errors.js";
import { runProgramChecked } from "../util/process.js";
import { acceptAgentChannel, describeHandshakeFailure, openCloneChannel } from "./clone-channel.js";
import type { ServerWatch } from "./server-watch.js";
import { MAX_WATCHERS, serveWatch } from "./watch-channel.js";
import { encodeDataFrame, encodeEndFrame, FrameDecoder } from "./frames.js";
import { removeStaleWorkDirs } from "./initdb.js";

/** Sent inside the authenticated channel: the version of what follows (the token is the channel's key). */
const REQUEST = "HAPRESS-CLONE 2";
const MAX_REQUEST_BYTES = 512;
/** The handshake and request must complete within this time (an absolute deadline, not an idle timeout). */
const GREETING_DEADLINE_MS = 10_000;
/** How long a backup stream may go without its peer taking a byte before the agent ends it. */
const STREAM_STALL_MS = 60_000;
/** Connections the agent holds at once; one backup streams at a time (each reads the whole data folder). */
const MAX_CONNECTIONS = 8;

/** Written into a cloned data folder: where it came from and the GTID to replicate from. */
export interface CloneInfo {
  donor: string;
  gtid: string;
  bytes: number;
  seconds: number;
  clonedAt: string;
}

export const CLONE_INFO_FILE = "hapress-clone.json";

export interface BackupServerOptions {
  address: string;
  port: number;
  /** The donor server's Unix socket; mariadb-backup connects through it as `user`. */
  socket: string;
  token: string;
  log: (line: string) => void;
  /** The backup account (BACKUP_PRIVILEGES only) and its password, passed in a 0600 option file. */
  user: string;
  password: string;
  /** Overrides GREETING_DEADLINE_MS (tests). */
  greetingDeadlineMs?: number;
  /** Overrides STREAM_STALL_MS (tests). */
  streamStallMs?: number;
  /** The server watch offered to holders of the watch key; without it, watch requests are refused. */
  watch?: ServerWatch;
}

/**
 * A password goes in a defaults file, never on a command line that `ps` shows: created exclusively
 * (never through a planted file or link) inside a fresh private 0700 folder. Returns the file and a
 * remover that every exit path calls.
 */
export function writePasswordFile(password: string): { path: string; remove: () => void } {
  const folder = mkdtempSync(join(tmpdir(), "hapress-backup-"));
  chmodSync(folder, 0o700);
  const path = join(folder, "client.cnf");
  writeFileSync(path, `[client]\npassword=${password}\n`, { mode: 0o600, flag: "wx" });
  return { path, remove: () => rmSync(folder, { recursive: true, force: true }) };
}

/**
 * Serves physical backup streams to peers (the tutorial's xtrabackup + ncat sidecar on 3307):
 * a peer proves it holds the site's clone token (the TLS key of the channel, see clone-channel.ts),
 * then receives `mariadb-backup --stream=xbstream` in frames.
 */
export interface BackupServer {
  /** The port it listens on (the one asked for, or the one the kernel chose for port 0). */
  port: number;
  /** Stops listening, kills backups in flight and cuts their connections. */
  close(): void;
}

export function serveBackups(options: BackupServerOptions): Promise<BackupServer> {
  const active = new Set<{ socket: Socket; kill: () => void }>();
  const watchers = new Set<Socket>();
  const server: Server = createServer((raw) => handleBackupRequest(raw, options, active, watchers));
  server.maxConnections = MAX_CONNECTIONS + MAX_WATCHERS;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.address, () => {
      server.off("error", reject);
      const bound = server.address();
      resolve({
        port: typeof bound === "object" && bound ? bound.port : options.port,
        close() {
          server.close();
          for (const transfer of active) {
            transfer.kill();
            transfer.socket.destroy();
          }
          for (const watcher of watchers) watcher.destroy();
        },
      });
    });
  });
}

type ActiveTransfers = Set<{ socket: Socket; kill: () => void }>;

function handleBackupRequest(
  raw: Socket,
  options: BackupServerOptions,
  active: ActiveTransfers,
  watchers: Set<Socket>,
): void {
  const peer = raw.remoteAddress ?? "?";
  raw.on("error", () => undefined);
  // One absolute deadline covers the TLS handshake and the request line, however slowly either trickles.
  const deadline = setTimeout(() => {
    options.log(`closed a connection from ${peer}: no request in time`);
    raw.destroy();
  }, options.greetingDeadlineMs ?? GREETING_DEADLINE_MS);
  raw.on("close", () => clearTimeout(deadline));
  const { socket, purpose } = acceptAgentChannel(raw, options.token);
  let secured = false;
  socket.on("error", (error: Error & { code?: string }) => {
    // A port probe (connect, then close) is not worth a line; a failed handshake is.
    if (!secured && error.code?.startsWith("ERR_SSL"))
      options.log(`refused a connection from ${peer}: ${describeHandshakeFailure(error)}`);
    raw.destroy();
  });
  let request = "";
  const onData = (chunk: Buffer) => {
    request += chunk.toString("latin1");
    const newline = request.indexOf("\n");
    if (newline < 0) {
      if (request.length > MAX_REQUEST_BYTES) raw.destroy();
      return;
    }
    socket.off("data", onData);
    clearTimeout(deadline);
    if (purpose() === "watch") {
      serveWatch(
        socket,
        raw,
        request.slice(0, newline),
        { log: options.log, watch: options.watch },
        watchers,
      );
      return;
    }
    if (request.slice(0, newline) !== REQUEST) {
      options.log(`refused a backup request from ${peer}: unknown request (another hapress version?)`);
      socket.end(`ERR unknown request; this agent speaks ${REQUEST}\n`);
      return;
    }
    if (active.size > 0) {
      options.log(`refused a backup request from ${peer}: a backup is already streaming`);
      socket.end("ERR busy: a backup is already streaming, try again\n");
      return;
    }
    socket.write("OK\n");
    streamBackup(socket, peer, options, active);
  };
  socket.once("secure", () => {
    secured = true;
    socket.on("data", onData);
  });
}

function streamBackup(
  socket: Socket,
  peer: string,
  options: BackupServerOptions,
  active: ActiveTransfers,
): void {
  const started = Date.now();
  const stallMs = options.streamStallMs ?? STREAM_STALL_MS;
  options.log(`streaming a backup to ${peer}`);
  const defaults = writePasswordFile(options.password);
  const backup = spawn(
    "mariadb-backup",
    [
      `--defaults-extra-file=${defaults.path}`,
      "--backup",
      "--stream=xbstream",
      `--socket=${options.socket}`,
      `--user=${options.user}`,
      `--target-dir=${tmpdir()}`,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const transfer = { socket, kill: () => backup.kill("SIGKILL") };
  active.add(transfer);
  let finished = false;
  /** Every exit path: the password file goes, the peer learns the outcome, the slot frees. */
  const finish = (ok: boolean, message: string) => {
    if (finished) return;
    finished = true;
    defaults.remove();
    active.delete(transfer);
    options.log(message);
    socket.end(encodeEndFrame(ok ? 0 : 1));
  };
  // A missing or unrunnable mariadb-backup must not crash the agent (it would leave the file behind).
  backup.on("error", (error) => finish(false, `backup failed: cannot run mariadb-backup (${error.message})`));
  let stderrTail = "";
  let bytes = 0;
  backup.stderr.on("data", (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString()).slice(-4000)));
  // A peer that vanished without closing (its pod killed, its node gone) never takes another byte,
  // and TCP would give up only after ~15 minutes of retransmissions, holding the one streaming slot
  // all that time: a stream that cannot move for STREAM_STALL_MS is ended.
  let stall: NodeJS.Timeout | undefined;
  backup.stdout.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    if (!socket.write(encodeDataFrame(chunk))) {
      backup.stdout.pause();
      stall = setTimeout(() => {
        backup.kill("SIGKILL");
        finish(
          false,
          `ended the backup stream to ${peer}: it took nothing for ${Math.round(stallMs / 1000)} s`,
        );
        socket.destroy();
      }, stallMs);
      socket.once("drain", () => {
        clearTimeout(stall);
        backup.stdout.resume();
      });
    }
  });
  socket.on("close", () => {
    clearTimeout(stall);
    if (backup.exitCode === null) backup.kill("SIGKILL");
  });
  backup.on("close", (code) => {
    const seconds = (Date.now() - started) / 1000;
    if (code === 0) finish(true, `backup streamed: ${bytes} bytes in ${seconds.toFixed(1)} s`);
    else
      finish(false, `backup failed (exit ${code}): ${stderrTail.trim().split("\n").slice(-3).join(" | ")}`);
  });
}

export interface CloneOptions {
  donor: { name: string; address: string; port: number };
  token: string;
  dataDir: string;
  timeoutMs?: number;
  onProgress?: (bytes: number) => void;
  /** Aborting kills the helper programs and fails the clone (its temporary folder is removed). */
  signal?: AbortSignal;
}

/**
 * Clones a new instance from a donor's backup stream into `dataDir`: unpack into a temporary folder,
 * prepare it, record the GTID position, then rename into place. A failure leaves no data folder.
 */
export async function cloneFromDonor(options: CloneOptions): Promise<CloneInfo> {
  await removeStaleWorkDirs(options.dataDir);
  const workDir = `${options.dataDir}.clone-${randomBytes(4).toString("hex")}`;
  const started = Date.now();
  try {
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const bytes = await receiveStream(options, workDir);
    await runProgramChecked("mariadb-backup", ["--prepare", `--target-dir=${workDir}`], {
      timeoutMs: options.timeoutMs ?? 600_000,
      signal: options.signal,
      killSignal: "SIGKILL",
    });
    const gtid = await readBackupGtid(workDir);
    const info: CloneInfo = {
      donor: options.donor.name,
      gtid,
      bytes,
      seconds: (Date.now() - started) / 1000,
      clonedAt: new Date().toISOString(),
    };
    await writeFile(join(workDir, CLONE_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    await rename(workDir, options.dataDir);
    return info;
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw new HapressError(`cloning from ${options.donor.name} (${options.donor.address}) failed`, {
      cause: error,
    });
  }
}

/** `xtrabackup_binlog_info` holds "file position gtid"; the GTID is what a replica starts from. */
export function parseBinlogInfo(text: string): string {
  const fields = text.trim().split(/\s+/);
  return fields[2] ?? "";
}

async function readBackupGtid(workDir: string): Promise<string> {
  try {
    return parseBinlogInfo(await readFile(join(workDir, "xtrabackup_binlog_info"), "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }
}

function receiveStream(options: CloneOptions, workDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const unpack = spawn("mbstream", ["-x", "-C", workDir], { stdio: ["pipe", "ignore", "pipe"] });
    const socket = openCloneChannel(options.donor.address, options.donor.port, options.token);
    const decoder = new FrameDecoder();
    let stage: "greeting" | "stream" = "greeting";
    let greetingBuffer = "";
    let bytes = 0;
    let status: number | null = null;
    let unpackError = "";
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      unpack.kill("SIGKILL");
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new Error("the clone did not finish in time")),
      options.timeoutMs ?? 600_000,
    );
    if (options.signal?.aborted) fail(new Error("the clone was interrupted"));
    options.signal?.addEventListener("abort", () => fail(new Error("the clone was interrupted")), {
      once: true,
    });
    unpack.stderr.on(
      "data",
      (chunk: Buffer) => (unpackError = (unpackError + chunk.toString()).slice(-2000)),
    );
    unpack.stdin.on("error", (error) => fail(new Error("mbstream stopped reading", { cause: error })));
    unpack.on("error", (error) => fail(new Error("cannot run mbstream", { cause: error })));
    unpack.on("close", (code) => {
      if (settled) return;
      if (code !== 0) return fail(new Error(`mbstream exited with ${code}: ${unpackError.trim()}`));
      if (status !== 0) return fail(new Error("the backup stream ended before the donor finished"));
      settled = true;
      clearTimeout(timer);
      resolve(bytes);
    });
    socket.on("secureConnect", () => socket.write(`${REQUEST}\n`));
    socket.on("error", (error: Error & { code?: string }) =>
      fail(
        new Error(`the connection to the donor's agent failed: ${describeHandshakeFailure(error)}`, {
          cause: error,
        }),
      ),
    );
    socket.on("data", (chunk: Buffer) => {
      let rest = chunk;
      if (stage === "greeting") {
        greetingBuffer += chunk.toString("latin1");
        const newline = greetingBuffer.indexOf("\n");
        if (newline < 0) return;
        const line = greetingBuffer.slice(0, newline);
        if (line !== "OK") return fail(new Error(`the donor's agent refused: ${line}`));
        stage = "stream";
        rest = Buffer.from(greetingBuffer.slice(newline + 1), "latin1");
      }
      try {
        for (const event of decoder.push(rest)) {
          if (event.kind === "data") {
            bytes += event.payload.length;
            options.onProgress?.(bytes);
            if (!unpack.stdin.write(event.payload)) {
              socket.pause();
              unpack.stdin.once("drain", () => socket.resume());
            }
          } else {
            status = event.status;
            if (status !== 0) return fail(new Error("the donor's backup failed; see the donor's log"));
            unpack.stdin.end();
          }
        }
      } catch (error) {
        fail(error as Error);
      }
    });
    socket.on("close", () => {
      if (!decoder.complete) fail(new Error("the donor closed the stream before its end"));
    });
  });
}

/** True when a donor's agent accepts connections (it starts a moment after its mariadbd). */
export function agentAnswers(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: address, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { writePasswordFile } from "../agent/clone.js";
import { connectSql, type Credentials, type Endpoint } from "../mysql/client.js";

/**
 * The continuous binary-log archive: `mariadb-binlog --read-from-remote-server --raw --stop-never`
 * copies the primary's binary logs, byte for byte, into one segment folder per primary (named
 * `<epoch>-<pod>`), and keeps following as they grow. The supervisor runs one for the recorded
 * primary and starts a new segment after a failover or switchover (the new primary's own binary
 * logs repeat what it had replicated, so segments overlap and leave no gap; the restore replays
 * each transaction once, by GTID). Restarted, it resumes from the last file it holds.
 */

/** Binary log files, as the server names them (`mysql-bin.000003`). */
const BINLOG_FILE = /^[A-Za-z0-9._-]+\.\d{6}$/;

/** The server id the archive presents as a replica: outside the instances' 100 + ordinal. */
export const ARCHIVER_SERVER_ID = 4000;

export function archivedFiles(segmentDir: string): string[] {
  try {
    return readdirSync(segmentDir)
      .filter((name) => BINLOG_FILE.test(name))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Which file to ask for (pure): the last one already held (fetched again whole), or the primary's
 * first. A held file the primary has purged since cannot be continued: the archive resumes at the
 * primary's first, and the hole between is reported by the gap check (backup/archive-gaps.ts).
 */
export function resumeFile(held: readonly string[], primaryFirst: string): string {
  const last = held.at(-1);
  if (last === undefined) return primaryFirst;
  return binlogNumber(last) < binlogNumber(primaryFirst) ? primaryFirst : last;
}

/** The sequence number of a binary log file's name (mysql-bin.000042 → 42). */
function binlogNumber(file: string): number {
  return Number(/\.(\d+)$/.exec(file)?.[1] ?? 0);
}

export interface ArchiverOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  segmentDir: string;
  /** The primary's oldest binary log, for a new segment. */
  firstFile: string;
  log: (line: string) => void;
}

/**
 * Streams until the primary goes away or the process is told to stop; resolves with
 * mariadb-binlog's exit code (the supervisor restarts a failed archiver with its usual back-off).
 */
export function runArchiver(options: ArchiverOptions): { done: Promise<number>; stop: () => void } {
  const start = resumeFile(archivedFiles(options.segmentDir), options.firstFile);
  const defaults = writePasswordFile(options.password);
  options.log(
    `archiving the binary logs of ${options.host}:${options.port} from ${start} into ${options.segmentDir}`,
  );
  const child = spawn(
    "mariadb-binlog",
    [
      `--defaults-extra-file=${defaults.path}`,
      "--read-from-remote-server",
      `--host=${options.host}`,
      `--port=${options.port}`,
      `--user=${options.user}`,
      "--raw",
      "--stop-never",
      `--stop-never-slave-server-id=${ARCHIVER_SERVER_ID}`,
      // A prefix: the files keep the server's names inside the segment folder.
      `--result-file=${options.segmentDir}/`,
      start,
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  const done = new Promise<number>((resolve) => {
    child.on("error", (error) => {
      defaults.remove();
      options.log(`cannot run mariadb-binlog: ${error.message}`);
      resolve(1);
    });
    child.on("close", (code, signal) => {
      defaults.remove();
      options.log(`mariadb-binlog ended (${signal ?? `exit ${code}`})`);
      resolve(code ?? 1);
    });
  });
  return { done, stop: () => child.kill("SIGTERM") };
}

/** One of the primary's binary logs, as SHOW BINARY LOGS lists it. */
export interface BinlogFile {
  name: string;
  size: number;
}

/** The server's binary logs, oldest first (needs BINLOG MONITOR). */
export async function binaryLogs(endpoint: Endpoint, credentials: Credentials): Promise<BinlogFile[]> {
  const session = await connectSql(endpoint, credentials, { connectTimeoutMs: 1000, queryTimeoutMs: 5000 });
  try {
    const rows = await session.query("SHOW BINARY LOGS");
    return rows.map((row) => ({ name: String(row.Log_name), size: Number(row.File_size) }));
  } finally {
    await session.close();
  }
}

/**
 * The server's oldest binary log, where a new segment starts (the new primary's logs repeat what it
 * replicated, so the segments overlap).
 */
export async function oldestBinlog(endpoint: Endpoint, credentials: Credentials): Promise<string> {
  const first = (await binaryLogs(endpoint, credentials))[0];
  if (!first) throw new Error("the primary lists no binary log");
  return first.name;
}

/**
 * How far the archive is behind the primary (pure): the bytes of the primary's binary logs that the
 * segment does not hold yet. `archived`: the segment's files and their sizes. A file the archive has
 * not begun counts whole; the archive never holds more of a file than the primary wrote.
 */
export function archiveLagBytes(
  primary: readonly BinlogFile[],
  archived: ReadonlyMap<string, number>,
): number {
  return primary.reduce((lag, file) => lag + Math.max(0, file.size - (archived.get(file.name) ?? 0)), 0);
}

/** How far a segment folder is behind its primary, in bytes (asked of the primary: BINLOG MONITOR). */
export async function segmentLagBytes(
  segmentDir: string,
  primary: Endpoint,
  credentials: Credentials,
): Promise<number> {
  const logs = await binaryLogs(primary, credentials);
  const sizes = await Promise.all(
    archivedFiles(segmentDir).map(
      async (file) => [file, (await stat(join(segmentDir, file)).catch(() => null))?.size ?? 0] as const,
    ),
  );
  return archiveLagBytes(logs, new Map(sizes));
}

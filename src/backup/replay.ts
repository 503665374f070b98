import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { HapressError } from "../errors.js";
import { PRIVATE_FILES_ENV } from "../mysql/config.js";
import { lookupAccount } from "../util/accounts.js";
import { runProgramChecked, sleep } from "../util/process.js";
import { withSystemDirs } from "../util/system-path.js";
import { addToRuns, type GtidRun, type SegmentRuns } from "./archive-gaps.js";
import { archivedFiles } from "./binlog-archiver.js";
import {
  parseBinlogTransactions,
  type ArchivedSegment,
  type ArchivedTransaction,
  type ReplayStep,
} from "./replay-plan.js";

/** mariadb-binlog prints event times in its local time zone: UTC, so they parse as UTC. */
const BINLOG_ENV = { ...process.env, TZ: "UTC", PATH: withSystemDirs(process.env.PATH) };

/** The archive's segment folders (`<epoch>-<pod>`) in order, each with its binary log files. */
function archiveSegments(archiveDir: string): { name: string; files: string[] }[] {
  if (!existsSync(archiveDir)) return [];
  return readdirSync(archiveDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^\d{6}-mysql-\d+$/.test(entry.name))
    .map((entry) => entry.name)
    .sort()
    .map((name) => ({
      name,
      files: archivedFiles(join(archiveDir, name)).map((file) => join(archiveDir, name, file)),
    }))
    .filter((segment) => segment.files.length > 0);
}

/**
 * Reads what every segment of the archive holds (its transactions' GTIDs and times), in order: for
 * restore and `hapress backups`, which need the times.
 */
export async function scanArchive(archiveDir: string): Promise<ArchivedSegment[]> {
  const segments: ArchivedSegment[] = [];
  for (const { name, files } of archiveSegments(archiveDir)) {
    const transactions: ArchivedTransaction[] = [];
    await eachTransaction(files, (transaction) => transactions.push(transaction));
    segments.push({ name, files, transactions });
  }
  return segments;
}

/** What was read of each archived file (domain 0's runs), kept while its size and time stay the same. */
export type ArchiveRunsCache = Map<string, { size: number; mtimeMs: number; runs: GtidRun[] }>;

/**
 * Domain 0's runs of every segment, in order, for the gap check of a long-running archiver and for
 * pruning: what is kept is a few runs per file whatever the number of transactions (see GtidRun).
 * With a cache, only files that changed since the last scan are read again (the one being written,
 * new ones).
 */
export async function scanArchiveRuns(
  archiveDir: string,
  cache: ArchiveRunsCache = new Map(),
): Promise<SegmentRuns[]> {
  const segments: SegmentRuns[] = [];
  const present = new Set<string>();
  for (const { name, files } of archiveSegments(archiveDir)) {
    const runs: GtidRun[] = [];
    for (const file of files) {
      present.add(file);
      const { size, mtimeMs } = statSync(file);
      let known = cache.get(file);
      if (!known || known.size !== size || known.mtimeMs !== mtimeMs) {
        const fileRuns: GtidRun[] = [];
        await eachTransaction([file], ({ gtid }) => addToRuns(fileRuns, gtid));
        known = { size, mtimeMs, runs: fileRuns };
        cache.set(file, known);
      }
      runs.push(...known.runs);
    }
    segments.push({ name, runs });
  }
  for (const file of [...cache.keys()]) if (!present.has(file)) cache.delete(file);
  return segments;
}

/**
 * The transactions of binary log files, streamed line by line to `found` (a log can be far larger
 * than memory should hold). A file still being written may end in a partial event: mariadb-binlog
 * then reports an error after the complete ones, which is fine here (the plan never goes past what
 * was read).
 */
function eachTransaction(files: string[], found: (transaction: ArchivedTransaction) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // Only the events' headers are read: no row decoding (the GTID lines are there either way).
    const child = spawn("mariadb-binlog", files, {
      env: BINLOG_ENV,
      stdio: ["ignore", "pipe", "ignore"],
    });
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      if (line.includes("GTID ")) for (const transaction of parseBinlogTransactions(line)) found(transaction);
    });
    child.on("error", (error) => reject(new HapressError("cannot run mariadb-binlog", { cause: error })));
    child.on("close", () => resolve());
  });
}

/**
 * Replays the planned transactions into a data folder: a private server on it (socket only, no
 * network, no binary log), `mariadb-binlog` piped into the client for each step, then a clean
 * shutdown. Any failure stops there and is reported (the caller throws the folder away).
 */
export async function replayInto(
  dataDir: string,
  steps: ReplayStep[],
  options: { runAs: string | null; log: (line: string) => void },
): Promise<void> {
  if (steps.length === 0) return;
  const runDir = mkdtempSync("/tmp/hapress-replay-");
  const socket = join(runDir, "mysqld.sock");
  if (options.runAs) {
    const account = lookupAccount(options.runAs);
    chownSync(runDir, account.uid, account.gid);
  }
  chmodSync(runDir, 0o700);
  const server = spawn(
    "mariadbd",
    [
      "--no-defaults",
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      "--skip-networking",
      "--skip-log-bin",
      `--pid-file=${join(runDir, "mysqld.pid")}`,
      ...(options.runAs ? [`--user=${options.runAs}`] : []),
    ],
    { env: { ...BINLOG_ENV, ...PRIVATE_FILES_ENV }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let serverErrors = "";
  server.stderr.on(
    "data",
    (chunk: Buffer) => (serverErrors = (serverErrors + chunk.toString()).slice(-4000)),
  );
  const client = options.runAs ? "root" : userInfo().username;
  try {
    await waitForSocket(socket, server, () => serverErrors);
    for (const step of steps) {
      options.log(
        `replaying ${step.transactions} transaction(s) from ${step.segment} (after ${step.startAfter || "its start"}, up to ${step.stopAt})`,
      );
      await runPipeline(
        [
          "mariadb-binlog",
          [
            ...(step.startAfter ? [`--start-position=${step.startAfter}`] : []),
            `--stop-position=${step.stopAt}`,
            ...step.files,
          ],
        ],
        ["mariadb", [`--socket=${socket}`, `--user=${client}`, "--binary-mode"]],
      );
    }
    await runProgramChecked("mariadb-admin", [`--socket=${socket}`, `--user=${client}`, "shutdown"], {
      env: BINLOG_ENV,
    });
    await new Promise<void>((resolve) =>
      server.exitCode !== null ? resolve() : server.once("exit", () => resolve()),
    );
  } finally {
    if (server.exitCode === null) {
      server.kill("SIGKILL");
      await new Promise((resolve) => server.once("exit", resolve));
    }
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** Waits (bounded) for the private server's socket; fails with its log if it exits first. */
async function waitForSocket(
  socket: string,
  server: ReturnType<typeof spawn>,
  errors: () => string,
): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (server.exitCode !== null)
      throw new HapressError(
        `the server for the replay stopped at start: ${errors().trim().split("\n").slice(-3).join(" | ")}`,
      );
    if (existsSync(socket)) return;
    await sleep(100);
  }
  throw new HapressError("the server for the replay did not open its socket within 60 s");
}

/** `producer | consumer`, both checked: a failure of either is an error with its last words. */
async function runPipeline(producer: [string, string[]], consumer: [string, string[]]): Promise<void> {
  const left = spawn(producer[0], producer[1], { env: BINLOG_ENV, stdio: ["ignore", "pipe", "pipe"] });
  const right = spawn(consumer[0], consumer[1], { env: BINLOG_ENV, stdio: ["pipe", "ignore", "pipe"] });
  left.stdout.pipe(right.stdin);
  right.stdin.on("error", () => undefined);
  const finished = (child: ChildProcess, name: string) =>
    new Promise<{ code: number | null; errors: string; name: string }>((resolve) => {
      let errors = "";
      child.stderr?.on("data", (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-2000)));
      child.on("error", (error) => resolve({ code: -1, errors: error.message, name }));
      child.on("close", (code) => resolve({ code, errors, name }));
    });
  const results = await Promise.all([finished(left, producer[0]), finished(right, consumer[0])]);
  const failed = results.find((result) => result.code !== 0);
  if (failed)
    throw new HapressError(
      `replaying failed: ${failed.name}: ${failed.errors.trim() || `exit ${failed.code}`}`,
    );
}

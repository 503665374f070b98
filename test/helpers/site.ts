import { spawn, spawnSync } from "node:child_process";
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { PodStatus, SiteStatus } from "../../src/status/site-status.js";
import { waitForStatus } from "../../src/chaos/site-waits.js";
import { appWriter, type Writer } from "../../src/chaos/writer.js";
import type { Secrets } from "../../src/state/secrets.js";
import { connectSql, type Row } from "../../src/mysql/client.js";
import { sleep } from "../../src/util/process.js";
import { currentLayout, type SiteLayout } from "../../src/platform/local/layout.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cli = join(repoRoot, "bin", "hapress");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `hapress` command (the compiled CLI), as a user would. */
export function runCli(
  args: string[],
  options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: options.cwd ?? repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** A short-path temporary folder for one site (Unix socket paths must stay short). */
export function makeSiteDir(label: string): string {
  return mkdtempSync(join("/tmp", `hpt-${label}-`));
}

/** A site under test: its state folder and helpers over the CLI and SQL. */
export class TestSite {
  readonly stateDir: string;
  /** Where its services' files are: the state folder, or (run as root) their service root. */
  readonly layout: SiteLayout;
  /** `spec` is written as the site's hapress.yaml; by default a database-only site (no WordPress). */
  constructor(
    readonly workDir: string,
    spec = "wordpress:\n  replicas: 0\n",
  ) {
    this.stateDir = join(workDir, "state");
    this.layout = currentLayout(this.stateDir);
    writeFileSync(join(workDir, "hapress.yaml"), spec);
  }

  cli(args: string[], timeoutMs?: number, env?: Record<string, string>): Promise<CliResult> {
    return runCli(["--dir", this.stateDir, ...args], { cwd: this.workDir, timeoutMs, env });
  }

  async up(extra: string[] = [], env?: Record<string, string>): Promise<CliResult> {
    const result = await this.cli(["up", ...extra], undefined, env);
    if (result.code !== 0)
      throw new Error(`hapress up failed (${result.code}):\n${result.stderr}\n${result.stdout}`);
    return result;
  }

  async status(): Promise<SiteStatus> {
    const result = await this.cli(["status", "--json"]);
    if (result.code !== 0) throw new Error(`hapress status failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as SiteStatus;
  }

  /** Waits (bounded) until the status satisfies `check`: the chaos runner's wait, not a copy of it. */
  waitFor(what: string, check: (status: SiteStatus) => boolean, timeoutMs = 120_000): Promise<SiteStatus> {
    return waitForStatus({ status: () => this.status(), sleep }, what, check, timeoutMs);
  }

  secrets(): Secrets {
    return JSON.parse(readFileSync(join(this.stateDir, "secrets.json"), "utf8")) as Secrets;
  }

  /** Runs SQL as the app user against "HOST:PORT". */
  async sqlAsApp(endpoint: string, sql: string, values?: unknown[]): Promise<Row[]> {
    const [host, port] = endpoint.split(":");
    const s = this.secrets();
    const session = await connectSql(
      { host: host ?? "", port: Number(port) },
      { user: s.appUser, password: s.appPassword },
      { database: s.appDatabase, queryTimeoutMs: 60_000 },
    );
    try {
      return await session.query(sql, values);
    } finally {
      await session.close();
    }
  }

  /** A write client on `mysql-primary` that counts acknowledged inserts. */
  async writer(): Promise<Writer> {
    const writer = appWriter((await this.status()).endpoints.mysqlPrimary, this.secrets());
    await writer.prepare();
    return writer;
  }

  async pod(name: string): Promise<PodStatus> {
    const pod = (await this.status()).pods.find((p) => p.name === name);
    if (!pod) throw new Error(`no pod ${name}`);
    return pod;
  }

  /**
   * The PID of a database pod's running mariadbd, checked in /proc: a pod's `pids` lists only live
   * processes, so while its server restarts the first entry is the agent. Waits (bounded) for it.
   */
  async mariadbdPid(name: string): Promise<number> {
    const deadline = Date.now() + 60_000;
    let seen: number[] = [];
    while (Date.now() < deadline) {
      seen = (await this.pod(name)).pids;
      for (const pid of seen) {
        const comm = (() => {
          try {
            return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
          } catch {
            return "";
          }
        })();
        if (comm === "mariadbd") return pid;
      }
      await sleep(200);
    }
    throw new Error(`${name} has no running mariadbd (pids ${seen.join(", ") || "none"})`);
  }

  /** The acknowledged ids missing from one instance, read directly on its address. */
  async missingOn(writer: Writer, pod: string, acknowledged: number[]): Promise<number[]> {
    const p = await this.pod(pod);
    return writer.missingOn({ host: p.address, port: p.port ?? 3306 }, acknowledged);
  }

  async events(): Promise<{ kind: string; instance: string | null; message: string }[]> {
    const result = await this.cli(["events", "--json"]);
    return JSON.parse(result.stdout || "[]") as { kind: string; instance: string | null; message: string }[];
  }

  async podAddress(name: string): Promise<string> {
    const pod = (await this.status()).pods.find((p) => p.name === name);
    if (!pod) throw new Error(`no pod ${name}`);
    return `${pod.address}:${pod.port ?? 3306}`;
  }

  /** Stops the site and deletes its data; then checks no process of it is left. */
  async destroy(): Promise<void> {
    await this.cli(["down", "--volumes", "--yes"]);
    rmSync(this.workDir, { recursive: true, force: true });
    const left = processesMentioning(this.workDir);
    if (left.length > 0) {
      const described = left.map(
        (pid) =>
          `${pid}: ${spawnSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim()}`,
      );
      for (const pid of left) process.kill(pid, "SIGKILL");
      throw new Error(`processes left running after down: ${described.join("; ")}`);
    }
  }
}

/**
 * PIDs whose command line or working folder mentions `text`: our processes name their state folder,
 * and workers that rename themselves (php-fpm, nginx) still run in the site's folder.
 */
export function processesMentioning(text: string): number[] {
  const found = new Set<number>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (commandLine.includes(text) || cwd.includes(text)) found.add(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return [...found];
}

/** The real user id a process runs as (null when it is gone). */
export function processUid(pid: number): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Uid:"));
    return line ? Number(line.split(/\s+/)[1]) : null;
  } catch {
    return null;
  }
}

/** The processes whose parent is one of `pids` (the workers of a master). */
export function childrenOf(pids: number[]): number[] {
  const parents = new Set(pids);
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      // The parent is the 4th field, after the command name in parentheses (which may hold spaces).
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parents.has(ppid)) children.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/**
 * Files under `dir` (symbolic links not followed) that other users may use at all, and folders they
 * may list or change. A folder others may only enter (x) hides its names: the way down to the
 * services' files when root starts the site (the service root, like /var/lib/docker).
 */
export function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const pending = [dir];
  // Bounded: a state folder holds a few thousand entries (WordPress core is most of them).
  for (let visited = 0; pending.length > 0 && visited < 100_000; visited++) {
    const path = pending.pop() ?? "";
    const stats = lstatSync(path, { throwIfNoEntry: false });
    // mariadbd makes its socket 0777 whatever the umask: the folders around it keep others out.
    if (!stats || stats.isSymbolicLink() || stats.isSocket()) continue;
    const open = stats.isDirectory() ? stats.mode & 0o006 : stats.mode & 0o007;
    if (open !== 0) found.push(`${path} (${(stats.mode & 0o777).toString(8)})`);
    if (stats.isDirectory()) for (const entry of readdirSync(path)) pending.push(join(path, entry));
  }
  return found;
}

/** "pid: command line" for each PID, for failure messages. */
export function describeProcesses(pids: number[]): string[] {
  return pids.map(
    (pid) =>
      `${pid}: ${spawnSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim()}`,
  );
}

/** Polls until `check` returns true or the deadline passes. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`, { cause: lastError });
}

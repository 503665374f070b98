// Benchmarks of the local database tier; prints figures, asserts nothing.
// HAPRESS_BENCH=up,clone,failover,web,overload picks sections (default: all but overload);
// HAPRESS_BENCH_MB sets the size of the database cloned (default 1024); HAPRESS_BENCH_UP_RUNS the runs
// of `up`; HAPRESS_BENCH_FAILOVER_RUNS the runs per fault; HAPRESS_BENCH_OVERLOAD_RATES the insert rates
// of the overload section (default 1000,100), HAPRESS_BENCH_OVERLOAD_RUNS its runs per case (5) and
// HAPRESS_BENCH_OVERLOAD_IN_FLIGHT the bound of inserts waiting at once (64, like a pool of PHP workers),
// HAPRESS_BENCH_OVERLOAD_FAULTS the cases (none,kill), HAPRESS_BENCH_OVERLOAD_TIMELINE=1 prints where
// each kill run's seconds went (client, events, logs);
// HAPRESS_BENCH=switchover times `hapress switchover` under writes (HAPRESS_BENCH_SWITCHOVER_RUNS, 5);
// HAPRESS_BENCH=supervisor measures adoption by a new supervisor and a failover with none running
// (HAPRESS_BENCH_SUPERVISOR_RUNS, default 3); HAPRESS_BENCH=saturation keeps both cores busy for 60 s
// under writes and counts failovers, which must be none (HAPRESS_BENCH_SATURATION_RUNS, default 5);
// HAPRESS_BENCH=backup: backup and restore of a HAPRESS_BENCH_MB database, and the archive's lag.
import autocannon from "autocannon";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { connectSql } from "../src/mysql/client.js";
import { ADMIN_PORT } from "../src/topology/topology.js";
import { failoverTimeline, missingOnPrimary, openLoopWrites } from "./overload.js";
import { benchBackup, loadFiller } from "./backup.js";
import type { SiteStatus } from "../src/status/site-status.js";
import type { Secrets } from "../src/state/secrets.js";
import { currentLayout } from "../src/platform/local/layout.js";
import { appWriter } from "../src/chaos/writer.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cli = join(root, "bin", "hapress");

function run(
  command: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

async function hapress(dir: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const result = await run(process.execPath, [cli, "--dir", join(dir, "state"), ...args], dir);
  if (result.code !== 0) throw new Error(`hapress ${args.join(" ")} failed: ${result.stderr}`);
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function benchUp(runs: number): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync("/tmp/hpb-up-");
    writeFileSync(join(dir, "hapress.yaml"), "wordpress:\n  replicas: 0\n");
    try {
      const started = process.hrtime.bigint();
      await hapress(dir, ["up"]);
      times.push(Number(process.hrtime.bigint() - started) / 1e9);
    } finally {
      await hapress(dir, ["down", "--volumes", "--yes"]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(
    `up (empty state -> 3 instances replicating, semi-sync on): ${times.map((t) => t.toFixed(2)).join(" s, ")} s; median ${median(times).toFixed(2)} s`,
  );
}

async function benchClone(megabytes: number): Promise<void> {
  const dir = mkdtempSync("/tmp/hpb-clone-");
  try {
    writeFileSync(
      join(dir, "hapress.yaml"),
      "database:\n  replicas: 1\n  bufferPoolMB: 256\nwordpress:\n  replicas: 0\n",
    );
    await hapress(dir, ["up"]);
    const status = JSON.parse((await hapress(dir, ["status", "--json"])).stdout) as SiteStatus;
    const secrets = JSON.parse(readFileSync(join(dir, "state", "secrets.json"), "utf8")) as Secrets;
    const [host, port] = status.endpoints.mysqlPrimary.split(":");
    const session = await connectSql(
      { host: host ?? "", port: Number(port) },
      { user: secrets.appUser, password: secrets.appPassword },
      { database: secrets.appDatabase, queryTimeoutMs: 600_000 },
    );
    const loadStarted = Date.now();
    await loadFiller(session, megabytes);
    await session.close();
    const dataDir = currentLayout(join(dir, "state")).mysqlDataDir("mysql-0");
    const du = await run("du", ["-sm", dataDir], dir);
    console.log(
      `loaded the primary in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s; data folder ${du.stdout.split("\t")[0] ?? "?"} MB`,
    );

    const copyTarget = join(dir, "copy");
    const copyStarted = process.hrtime.bigint();
    await run("cp", ["-r", dataDir, copyTarget], dir);
    const copySeconds = Number(process.hrtime.bigint() - copyStarted) / 1e9;
    const copied = Number((await run("du", ["-sm", copyTarget], dir)).stdout.split("\t")[0]);
    rmSync(copyTarget, { recursive: true, force: true });

    const scaled = await hapress(dir, ["scale", "mysql", "2"]);
    const match = /cloned ([\d.]+) MB in ([\d.]+) s \(([\d.]+) MB\/s\)/.exec(scaled.stderr);
    console.log(
      `clone of a replica (backup stream + unpack + prepare): ${match ? `${match[1]} MB in ${match[2]} s = ${match[3]} MB/s` : "not reported"}`,
    );
    console.log(
      `cp -r of the same data folder: ${copied} MB in ${copySeconds.toFixed(2)} s = ${(copied / copySeconds).toFixed(1)} MB/s`,
    );
  } finally {
    await hapress(dir, ["down", "--volumes", "--yes"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchFailover(runs: number): Promise<void> {
  const dir = mkdtempSync("/tmp/hpb-fo-");
  writeFileSync(join(dir, "hapress.yaml"), "wordpress:\n  replicas: 0\n");
  try {
    await hapress(dir, ["up"]);
    const result = await hapress(dir, ["chaos", "--fault", "both", "--runs", String(runs)]);
    for (const line of result.stdout.trim().split("\n")) console.log(`failover, ${line}`);
  } finally {
    await hapress(dir, ["down", "--volumes", "--yes"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One autocannon run: requests per second and latency percentiles. */
async function load(
  url: string,
  connections: number,
  seconds: number,
  headers: Record<string, string> = {},
): Promise<string> {
  const result = await autocannon({ url, connections, duration: seconds, headers });
  const failed = result.errors + result.timeouts + result.non2xx;
  return `${result.requests.average.toFixed(0)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${failed} failed`;
}

async function benchWeb(): Promise<void> {
  const dir = mkdtempSync("/tmp/hpb-web-");
  try {
    writeFileSync(join(dir, "hapress.yaml"), "local:\n  httpPort: 18490\n");
    const started = process.hrtime.bigint();
    await hapress(dir, ["up"]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      `up of the whole site (3 database + 3 WordPress, installed) from an empty state folder: ${seconds.toFixed(2)} s`,
    );
    const status = JSON.parse((await hapress(dir, ["status", "--json"])).stdout) as SiteStatus;
    const pod = status.pods.find((p) => p.name === "wordpress-0");
    const connections = 8;
    // Past the page cache: a cookie that marks a reader whose pages are their own (BYPASS).
    const uncached = { cookie: "wordpress_no_cache=1" };
    const lb = `${status.endpoints.http ?? ""}/`;
    // Warm up PHP's opcode cache on every pod first.
    await load(lb, connections, 3, uncached);
    await load(lb, connections, 2);
    console.log(
      `home page through the load balancer, page cache (HIT; 3 pods, ${connections} connections, 15 s): ${await load(lb, connections, 15)}`,
    );
    console.log(
      `home page through the load balancer, uncached (BYPASS; ${connections} connections, 15 s): ${await load(lb, connections, 15, uncached)}`,
    );
    console.log(
      `home page on one pod directly, uncached (${connections} connections, 15 s): ${await load(`http://${pod?.address}:${pod?.port}/`, connections, 15, uncached)}`,
    );
  } finally {
    await hapress(dir, ["down", "--volumes", "--yes"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The site's own account of what happened, each line with its time (epoch ms): the controller's
 * events and the supervisor's and the controller's log lines (they start with an ISO time).
 */
function siteLines(stateDir: string): { at: number; text: string }[] {
  const read = (file: string) => {
    try {
      return readFileSync(file, "utf8").split("\n");
    } catch {
      return [];
    }
  };
  const lines: { at: number; text: string }[] = [];
  for (const line of read(join(stateDir, "events.jsonl"))) {
    if (line.trim() === "") continue;
    const event = JSON.parse(line) as { time: string; kind: string; message: string };
    lines.push({ at: Date.parse(event.time), text: `event ${event.kind}: ${event.message}` });
  }
  for (const source of ["supervisor", "controller"]) {
    for (const line of read(join(stateDir, "logs", `${source}.log`))) {
      const match = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/.exec(line);
      if (match?.[1] && match[2]) lines.push({ at: Date.parse(match[1]), text: `${source}: ${match[2]}` });
    }
  }
  return lines;
}

async function siteStatus(dir: string): Promise<SiteStatus> {
  return JSON.parse((await hapress(dir, ["status", "--json"])).stdout) as SiteStatus;
}

async function failoversSoFar(dir: string): Promise<number> {
  const events = JSON.parse((await hapress(dir, ["events", "--json"])).stdout || "[]") as { kind: string }[];
  return events.filter((e) => e.kind === "failover-started").length;
}

async function waitReady(dir: string): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if ((await siteStatus(dir)).ready) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error("the site did not become ready within 120 s");
}

function mariadbdPid(status: SiteStatus, pod: string): number {
  const pids = status.pods.find((p) => p.name === pod)?.pids ?? [];
  const pid = pids.find((candidate) => {
    try {
      return readFileSync(`/proc/${candidate}/comm`, "utf8").trim() === "mariadbd";
    } catch {
      return false;
    }
  });
  if (!pid) throw new Error(`${pod} has no running mariadbd`);
  return pid;
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`process ${pid} still there after 10 s`);
}

/**
 * Per run, under a steady insert load: kill -9 of the supervisor, then `hapress up` adopting the site
 * (timed; every PID must stay); then kill -9 of the supervisor and of the primary's mariadbd: the
 * write outage the controller achieves with no supervisor, and the acknowledged writes lost.
 */
async function benchSupervisor(runs: number): Promise<void> {
  const dir = mkdtempSync("/tmp/hpb-sv-");
  writeFileSync(join(dir, "hapress.yaml"), "wordpress:\n  replicas: 0\n");
  const adoptions: number[] = [];
  const outages: number[] = [];
  let acknowledged = 0;
  let lost = 0;
  try {
    await hapress(dir, ["up"]);
    const secrets = JSON.parse(readFileSync(join(dir, "state", "secrets.json"), "utf8")) as Secrets;
    for (let i = 0; i < runs; i++) {
      await waitReady(dir);
      await new Promise((resolve) => setTimeout(resolve, 3500)); // past the controller's cooldown
      const before = await siteStatus(dir);
      const pidsBefore = JSON.stringify(before.pods.map((p) => p.pids));
      const writer = appWriter(before.endpoints.mysqlPrimary, secrets);
      await writer.prepare();
      writer.start();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      process.kill(before.supervisorPid ?? 0, "SIGKILL");
      await waitGone(before.supervisorPid ?? 0);
      const started = process.hrtime.bigint();
      await hapress(dir, ["up"]);
      adoptions.push(Number(process.hrtime.bigint() - started) / 1e9);
      const adopted = await siteStatus(dir);
      if (JSON.stringify(adopted.pods.map((p) => p.pids)) !== pidsBefore)
        throw new Error("the adoption restarted a process");
      const gapBefore = (await writer.stop()).longestGapMs;
      // A failover with no supervisor: a fresh writer measures its outage alone.
      const failoverWriter = appWriter(before.endpoints.mysqlPrimary, secrets);
      failoverWriter.start();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      process.kill(adopted.supervisorPid ?? 0, "SIGKILL");
      await waitGone(adopted.supervisorPid ?? 0);
      const old = adopted.primary ?? "mysql-0";
      process.kill(mariadbdPid(adopted, old), "SIGKILL");
      let primary = old;
      for (let t = 0; t < 300 && primary === old; t++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        primary = (await siteStatus(dir)).primary ?? old;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const report = await failoverWriter.stop();
      outages.push(report.longestGapMs / 1000);
      acknowledged += report.acknowledged.length;
      const address = (await siteStatus(dir)).pods.find((p) => p.name === primary);
      lost += (
        await writer.missingOn(
          { host: address?.address ?? "", port: address?.port ?? 3306 },
          report.acknowledged,
        )
      ).length;
      if (gapBefore > 1000)
        console.log(`  (run ${i + 1}: a write gap of ${gapBefore} ms during the adoption)`);
      await hapress(dir, ["up"]);
    }
  } finally {
    await hapress(dir, ["down", "--volumes", "--yes"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  const list = (values: number[]) => values.map((v) => v.toFixed(2)).join(" s, ");
  console.log(
    `supervisor kill -9, then 'hapress up' adopting every process: ${list(adoptions)} s; median ${median(adoptions).toFixed(2)} s`,
  );
  console.log(
    `primary kill -9 with no supervisor running: write outage ${list(outages)} s; median ${median(outages).toFixed(2)} s; ${lost} of ${acknowledged} acknowledged writes lost`,
  );
}

/**
 * A slow primary that is alive must never be failed over: per run, 60 s with every core kept busy by
 * twice as many spinning processes as there are cores while a writer inserts through mysql-primary.
 */
async function benchSaturation(runs: number): Promise<void> {
  const dir = mkdtempSync("/tmp/hpb-sat-");
  writeFileSync(join(dir, "hapress.yaml"), "wordpress:\n  replicas: 0\n");
  const failovers: number[] = [];
  let acknowledged = 0;
  let longestGapMs = 0;
  try {
    await hapress(dir, ["up"]);
    const secrets = JSON.parse(readFileSync(join(dir, "state", "secrets.json"), "utf8")) as Secrets;
    for (let i = 0; i < runs; i++) {
      await waitReady(dir);
      const before = await failoversSoFar(dir);
      const writer = appWriter((await siteStatus(dir)).endpoints.mysqlPrimary, secrets);
      await writer.prepare();
      writer.start();
      const spinners = Array.from({ length: 2 * availableParallelism() }, () =>
        spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" }),
      );
      try {
        await new Promise((resolve) => setTimeout(resolve, 60_000));
      } finally {
        for (const spinner of spinners) spinner.kill("SIGKILL");
      }
      const report = await writer.stop();
      acknowledged += report.acknowledged.length;
      longestGapMs = Math.max(longestGapMs, report.longestGapMs);
      failovers.push((await failoversSoFar(dir)) - before);
    }
  } finally {
    await hapress(dir, ["down", "--volumes", "--yes"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `both cores saturated for 60 s under writes, ${runs} runs: failovers ${failovers.join(", ")} (must be 0); ${acknowledged} writes acknowledged, longest write gap ${longestGapMs} ms`,
  );
}

/**
 * 30 s of open-loop inserts through mysql-primary, without a fault and with kill -9 of the primary at
 * 10 s, at each rate, with at most `inFlight` attempts waiting (a bounded client like php-fpm's pool).
 */
async function benchOverload(rates: number[], runs: number, inFlight: number): Promise<void> {
  const dir = mkdtempSync("/tmp/hpb-ol-");
  writeFileSync(join(dir, "hapress.yaml"), "wordpress:\n  replicas: 0\n");
  try {
    await hapress(dir, ["up"]);
    const secrets = JSON.parse(readFileSync(join(dir, "state", "secrets.json"), "utf8")) as Secrets;
    for (const rate of rates) {
      for (const fault of (["none", "kill -9 primary"] as const).filter((f) =>
        overloadFaults.includes(f === "none" ? "none" : "kill"),
      )) {
        const outages: number[] = [];
        let lost = 0;
        const failovers: number[] = [];
        for (let run = 0; run < runs; run++) {
          await waitReady(dir);
          const before = await failoversSoFar(dir);
          const status = await siteStatus(dir);
          const [host = "", port = "3306"] = status.endpoints.mysqlPrimary.split(":");
          const primaryPid = status.pods.find((p) => p.name === status.primary)?.pids[0];
          const report = await openLoopWrites(
            { host, port: Number(port) },
            secrets,
            rate,
            30,
            fault === "none" || !primaryPid
              ? undefined
              : { atMs: 10_000, run: () => Promise.resolve(void process.kill(primaryPid, "SIGKILL")) },
            inFlight,
          );
          await waitReady(dir);
          const after = await siteStatus(dir);
          failovers.push((await failoversSoFar(dir)) - before);
          const missing = await missingOnPrimary(after, secrets, report.acknowledged);
          lost += missing;
          outages.push(report.longestGapMs / 1000);
          if (overloadTimeline && fault !== "none") {
            for (const line of failoverTimeline(report, siteLines(join(dir, "state")))) console.log(line);
          }
          console.log(
            `overload ${rate}/s (at most ${inFlight} in flight), fault ${fault}, run ${run + 1}: ${report.acknowledged.length}/${report.attempted} acknowledged, ${report.failed} failed, ${report.shed} shed, up to ${report.maxInFlight} in flight, longest write outage ${(report.longestGapMs / 1000).toFixed(2)} s, failovers ${failovers.at(-1)}, acknowledged lost ${missing}`,
          );
        }
        console.log(
          `overload ${rate}/s (at most ${inFlight} in flight), fault ${fault}: write outage median ${median(outages).toFixed(2)} s (max ${Math.max(...outages).toFixed(2)} s), failovers per run ${failovers.join(",")}, acknowledged writes lost ${lost}`,
        );
      }
    }
  } finally {
    await hapress(dir, ["down", "--volumes", "--yes"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `hapress switchover` under 100 inserts/s: from the command's start to the controller beginning the
 * switch (its switchover-started event) and to the target accepting writes (read_only off, polled
 * every 10 ms on its own address), and the writers' longest gap.
 */
async function benchSwitchover(runs: number): Promise<void> {
  const dir = mkdtempSync("/tmp/hpb-so-");
  writeFileSync(join(dir, "hapress.yaml"), "wordpress:\n  replicas: 0\n");
  const begun: number[] = [];
  const writable: number[] = [];
  const gaps: number[] = [];
  try {
    await hapress(dir, ["up"]);
    const secrets = JSON.parse(readFileSync(join(dir, "state", "secrets.json"), "utf8")) as Secrets;
    for (let i = 0; i < runs; i++) {
      await waitReady(dir);
      await new Promise((resolve) => setTimeout(resolve, 3500)); // past the controller's cooldown
      const status = await siteStatus(dir);
      const target = status.pods.find((p) => p.component === "mysql" && p.name !== status.primary);
      if (!target) throw new Error("no replica to switch over to");
      const [host = "", port = "3306"] = status.endpoints.mysqlPrimary.split(":");
      let commandStarted = 0;
      let writableAt = 0;
      const report = await openLoopWrites({ host, port: Number(port) }, secrets, 100, 12, {
        atMs: 4000,
        run: async () => {
          commandStarted = Date.now();
          const polling = (async () => {
            const session = await connectSql(
              { host: target.address, port: ADMIN_PORT },
              { user: secrets.adminUser, password: secrets.adminPassword },
            );
            try {
              // Bounded: the switchover's own deadline is 10 s.
              for (let n = 0; n < 3000 && writableAt === 0; n++) {
                const [row] = await session.query("SELECT @@global.read_only AS ro");
                if (Number(row?.ro) === 0) writableAt = Date.now();
                else await new Promise((resolve) => setTimeout(resolve, 10));
              }
            } finally {
              await session.close();
            }
          })();
          await hapress(dir, ["switchover", "--to", target.name]);
          await polling;
        },
      });
      const events = JSON.parse((await hapress(dir, ["events", "--json"])).stdout) as {
        time: string;
        kind: string;
      }[];
      const started = events.filter((e) => e.kind === "switchover-started").at(-1);
      const begunMs = started ? Date.parse(started.time) - commandStarted : NaN;
      begun.push(begunMs);
      writable.push(writableAt - commandStarted);
      gaps.push(report.longestGapMs);
      console.log(
        `switchover run ${i + 1} to ${target.name}: began ${begunMs} ms after the command started, target writable after ${writableAt - commandStarted} ms, longest write gap ${report.longestGapMs} ms`,
      );
    }
    console.log(
      `switchover, ${runs} runs under 100 inserts/s: began after ${median(begun)} ms (median; max ${Math.max(...begun)}), target writable after ${median(writable)} ms (max ${Math.max(...writable)}), longest write gap ${median(gaps)} ms (max ${Math.max(...gaps)})`,
    );
  } finally {
    await hapress(dir, ["down", "--volumes", "--yes"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const megabytes = Number(process.env.HAPRESS_BENCH_MB ?? 1024);
const upRuns = Number(process.env.HAPRESS_BENCH_UP_RUNS ?? 3);
const failoverRuns = Number(process.env.HAPRESS_BENCH_FAILOVER_RUNS ?? 5);
const sections = (process.env.HAPRESS_BENCH ?? "up,clone,failover,web").split(",");
const overloadRates = (process.env.HAPRESS_BENCH_OVERLOAD_RATES ?? "1000,100").split(",").map(Number);
const overloadRuns = Number(process.env.HAPRESS_BENCH_OVERLOAD_RUNS ?? 5);
const overloadInFlight = Number(process.env.HAPRESS_BENCH_OVERLOAD_IN_FLIGHT ?? 64);
const overloadTimeline = process.env.HAPRESS_BENCH_OVERLOAD_TIMELINE === "1";
const overloadFaults = (process.env.HAPRESS_BENCH_OVERLOAD_FAULTS ?? "none,kill").split(",");
const switchoverRuns = Number(process.env.HAPRESS_BENCH_SWITCHOVER_RUNS ?? 5);
const supervisorRuns = Number(process.env.HAPRESS_BENCH_SUPERVISOR_RUNS ?? 3);
const saturationRuns = Number(process.env.HAPRESS_BENCH_SATURATION_RUNS ?? 5);
if (sections.includes("up")) await benchUp(upRuns);
if (sections.includes("supervisor")) await benchSupervisor(supervisorRuns);
if (sections.includes("saturation")) await benchSaturation(saturationRuns);
if (sections.includes("clone")) await benchClone(megabytes);
if (sections.includes("failover")) await benchFailover(failoverRuns);
if (sections.includes("web")) await benchWeb();
if (sections.includes("overload")) await benchOverload(overloadRates, overloadRuns, overloadInFlight);
if (sections.includes("switchover")) await benchSwitchover(switchoverRuns);
if (sections.includes("backup")) await benchBackup(megabytes, hapress, run);

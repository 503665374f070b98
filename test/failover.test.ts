import assert from "node:assert/strict";
import type { ScenarioRun } from "../src/chaos/runner.js";
import { databasePods, isWhole, newPrimary } from "../src/chaos/site-waits.js";
import { assertRolledInOrder } from "./helpers/rolls.js";
import { spawn } from "node:child_process";
import { userInfo } from "node:os";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Observation } from "../src/controller/types.js";
import { connectSql } from "../src/mysql/client.js";
import { callRpc } from "../src/platform/local/rpc.js";
import { statePaths } from "../src/state/files.js";
import { ADMIN_PORT } from "../src/topology/topology.js";
import { runProgram, sleep } from "../src/util/process.js";
import { eventually, makeSiteDir, TestSite } from "./helpers/site.js";

/**
 * SIGSTOP, then wait until the kernel shows every thread stopped: kill() returns before a busy
 * multithreaded server has stopped, and a query sent in that window was seen answered (3 times in 10).
 * A process that is gone (fenced) counts as stopped.
 */
async function stopProcess(pid: number): Promise<void> {
  signal(pid, "SIGSTOP");
  const threadStates = () => {
    try {
      return readdirSync(`/proc/${pid}/task`).map((task) => {
        try {
          return readFileSync(`/proc/${pid}/task/${task}/stat`, "utf8").replace(/^.*\) /, "")[0];
        } catch {
          return "T";
        }
      });
    } catch {
      return [];
    }
  };
  for (let waited = 0; waited < 5000 && !threadStates().every((state) => state === "T"); waited += 10)
    await sleep(10);
}

function signal(pid: number | undefined, name: NodeJS.Signals): void {
  if (!pid) throw new Error("no pid");
  try {
    process.kill(pid, name);
  } catch (error) {
    // The controller may already have fenced (killed) a stopped process: nothing to continue.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

async function waitForNewPrimary(site: TestSite, old: string): Promise<string> {
  const status = await site.waitFor(`a primary other than ${old}, ready`, newPrimary(old), 90_000);
  return status.primary ?? old;
}

async function assertRejoined(site: TestSite, pod: string, primary: string): Promise<void> {
  // Stable twice in a row: a rejoin that later fails (errant transactions, then a re-clone) is not done yet.
  let stableRounds = 0;
  await eventually(
    `${pod} back as a replica of ${primary}, caught up`,
    async () => {
      const status = await site.status();
      const p = status.pods.find((x) => x.name === pod);
      const primaryGtid = status.pods.find((x) => x.name === primary)?.gtid;
      const ok =
        status.primary === primary &&
        status.ready &&
        p?.role === "replica" &&
        p.ready &&
        p.readOnly === true &&
        p.gtid === primaryGtid;
      stableRounds = ok ? stableRounds + 1 : 0;
      if (ok) await sleep(500);
      return stableRounds >= 3;
    },
    120_000,
  );
}

/** Debian's mariadbd, copied for a test to install a "new version" of over the running servers. */
const SYSTEM_MARIADBD = ["/usr/sbin/mariadbd", "/usr/bin/mariadbd"].find((path) => existsSync(path)) ?? "";

describe("failover under writes (real mariadbd)", () => {
  const site = new TestSite(makeSiteDir("fo"));
  // The site's servers run a copy of mariadbd found first on the supervisor's PATH, so that a test
  // can install another version of it the way a package upgrade does. Readable by the mysql user.
  const programDir = mkdtempSync("/var/tmp/hpt-programs-");
  const programEnv = { PATH: `${programDir}:${process.env.PATH ?? ""}` };
  before(async () => {
    chmodSync(programDir, 0o755);
    copyFileSync(SYSTEM_MARIADBD, join(programDir, "mariadbd"));
    await site.up([], programEnv);
  });
  after(async () => {
    await site.destroy();
    rmSync(programDir, { recursive: true, force: true });
  });

  it("kill -9 of the primary: a new primary is elected, no acknowledged insert is lost, the old one rejoins", async () => {
    const writer = await site.writer();
    writer.start();
    await sleep(1500);
    const old = await site.pod("mysql-0");
    signal(await site.mariadbdPid(old.name), "SIGKILL");
    const primary = await waitForNewPrimary(site, "mysql-0");
    await sleep(1500);
    const report = await writer.stop();
    assert.ok(report.acknowledged.length > 50, `writes went on: ${report.acknowledged.length}`);
    assert.deepEqual(
      await site.missingOn(writer, primary, report.acknowledged),
      [],
      "every acknowledged insert is on the new primary",
    );
    const writable = await site.sqlAsApp(
      (await site.status()).endpoints.mysqlPrimary,
      "SELECT @@server_id AS id, @@read_only AS ro",
    );
    assert.equal(Number(writable[0]?.ro), 0, "the endpoint reaches a writable primary");
    await assertRejoined(site, "mysql-0", primary);
    const events = await site.events();
    const kinds = events.map((e) => e.kind);
    assert.ok(
      kinds.includes("failover-started") && kinds.includes("promoted") && kinds.includes("rejoined"),
      kinds.join(","),
    );
    // The supervisor saw the process die and said so: no waiting for three failed probes.
    const started = events.find((e) => e.kind === "failover-started");
    assert.match(started?.message ?? "", /mysql-0's mariadbd killed by SIGKILL \(reported by its owner\)/);
  });

  it("fails over twice in a row (the new primary is killed too)", async () => {
    const first = (await site.status()).primary ?? "";
    await sleep(3500); // past the controller's cooldown
    const writer = await site.writer();
    writer.start();
    await sleep(1000);
    signal(await site.mariadbdPid(first), "SIGKILL");
    const second = await waitForNewPrimary(site, first);
    await sleep(1000);
    const report = await writer.stop();
    assert.deepEqual(await site.missingOn(writer, second, report.acknowledged), []);
    await assertRejoined(site, first, second);
  });

  it("switchover under writes: no acknowledged write lost, the endpoint follows", async () => {
    const before = (await site.status()).primary ?? "";
    const target = ["mysql-0", "mysql-1", "mysql-2"].find((p) => p !== before) ?? "";
    const writer = await site.writer();
    writer.start();
    await sleep(1000);
    const result = await site.cli(["switchover", "--to", target]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`switched over from ${before} to ${target}`));
    await sleep(1000);
    const report = await writer.stop();
    assert.deepEqual(await site.missingOn(writer, target, report.acknowledged), []);
    const status = await site.status();
    assert.equal(status.primary, target);
    const [row] = await site.sqlAsApp(status.endpoints.mysqlPrimary, "SELECT @@server_id AS id");
    assert.equal(
      Number(row?.id),
      100 + Number(target.split("-")[1]),
      "mysql-primary routes to the new primary",
    );
    await assertRejoined(site, before, target);
    const bad = await site.cli(["switchover", "--to", "mysql-7"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /refused: mysql-7 is not a replica streaming from/);
  });

  it("promotes the replica that applied the most when both received as much: a stalled applier is passed over", async () => {
    const status = await site.waitFor("whole, past the cooldown", isWhole);
    await sleep(3500); // past the controller's cooldown after the switchover
    const primary = status.primary ?? "";
    const [stalled, ready] = databasePods(status)
      .filter((p) => p.name !== primary)
      .sort((a, b) => a.name.localeCompare(b.name));
    assert.ok(stalled && ready, "two replicas");
    const { appDatabase } = site.secrets();
    await site.sqlAsApp(status.endpoints.mysqlPrimary, "CREATE TABLE tiebreak (id INT PRIMARY KEY, n INT)");
    await site.sqlAsApp(status.endpoints.mysqlPrimary, "INSERT INTO tiebreak VALUES (1, 0)");
    await eventually(`${stalled.name} has the row`, async () => {
      const rows = await site.sqlAsApp(await site.podAddress(stalled.name), "SELECT n FROM tiebreak");
      return rows.length === 1;
    });
    // The lower ordinal's applier stalls on a table lock held by an operator's session (its IO thread
    // still receives and acknowledges): a replica with relay log still to apply, as on a busy site.
    // (A locking read is refused on a read-only server; LOCK TABLES … READ is not.)
    const stalledSocket = join(site.layout.mysqlRunDir(stalled.name), "mysqld.sock");
    const operatorArgs = ["--socket", stalledSocket, `-u${userInfo().username}`, appDatabase, "-N", "-e"];
    const holder = spawn("mariadb", [...operatorArgs, "LOCK TABLES tiebreak READ; SELECT SLEEP(120);"], {
      stdio: "ignore",
    });
    try {
      // Seen holding the lock (asleep after taking it), not assumed after a fixed sleep.
      await eventually("the operator's session to hold the table lock", async () => {
        const asleep = await runProgram("mariadb", [
          ...operatorArgs,
          "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(120)'",
        ]);
        return asleep.stdout.trim() === "1";
      });
      for (let i = 0; i < 20; i++)
        await site.sqlAsApp(status.endpoints.mysqlPrimary, "UPDATE tiebreak SET n = n + 1 WHERE id = 1");
      const [target] = await site.sqlAsApp(
        await site.podAddress(primary),
        "SELECT @@global.gtid_binlog_pos AS pos",
      );
      const position = String(target?.pos);
      // Both received everything; only the ready one applied it.
      const replicaState = async (pod: string) => {
        const [row] = await site.sqlAsApp(
          await site.podAddress(pod),
          "SELECT @@global.gtid_current_pos AS applied, (SELECT n FROM tiebreak WHERE id = 1) AS n",
        );
        return { applied: String(row?.applied), n: Number(row?.n) };
      };
      await eventually(
        `${ready.name} applied ${position}`,
        async () => (await replicaState(ready.name)).applied === position,
      );
      const stalledState = await replicaState(stalled.name);
      assert.notEqual(stalledState.applied, position, `${stalled.name}'s applier is held back`);
      const admin = site.secrets();
      const stalledHost = (await site.podAddress(stalled.name)).split(":")[0] ?? "";
      await eventually(`${stalled.name} received ${position}`, async () => {
        const session = await connectSql(
          { host: stalledHost, port: ADMIN_PORT },
          { user: admin.adminUser, password: admin.adminPassword },
        );
        try {
          const [slave] = await session.query("SHOW SLAVE STATUS");
          return String(slave?.Gtid_IO_Pos) === position;
        } finally {
          await session.close();
        }
      });
      signal(await site.mariadbdPid(primary), "SIGKILL");
      // Not "ready" yet: the stalled replica cannot be re-pointed while its applier waits for the lock.
      const promoted =
        (
          await site.waitFor(
            `a primary other than ${primary}`,
            (s) => s.primary !== null && s.primary !== primary,
            90_000,
          )
        ).primary ?? "";
      assert.equal(
        promoted,
        ready.name,
        `the replica that applied everything is promoted, not ${stalled.name}`,
      );
      const [row] = await site.sqlAsApp(status.endpoints.mysqlPrimary, "SELECT n FROM tiebreak WHERE id = 1");
      assert.equal(Number(row?.n), 20, "every acknowledged update is on the new primary");
    } finally {
      holder.kill("SIGKILL");
    }
    await assertRejoined(site, stalled.name, ready.name);
    const [row] = await site.sqlAsApp(
      await site.podAddress(stalled.name),
      "SELECT n FROM tiebreak WHERE id = 1",
    );
    assert.equal(Number(row?.n), 20, `${stalled.name} applied its relay log once released`);
  });

  it("`hapress up` with a changed database setting rolls the tier: replicas first, one switchover, the old primary last, nothing lost", async () => {
    const whole = await site.waitFor("whole", isWhole);
    const before = whole.primary ?? "";
    const epoch = whole.primaryEpoch ?? 0;
    const maxConnections = whole.database.maxConnections + 7;
    const eventsBefore = (await site.events()).length;
    writeFileSync(
      join(site.workDir, "hapress.yaml"),
      `wordpress:\n  replicas: 0\ndatabase:\n  maxConnections: ${maxConnections}\n`,
    );
    const writer = await site.writer();
    writer.start();
    await sleep(1000);
    const started = Date.now();
    const result = await site.up();
    const rollSeconds = (Date.now() - started) / 1000;
    await sleep(1000);
    const report = await writer.stop();
    assert.match(
      result.stdout + result.stderr,
      new RegExp(
        `the database configuration or server program changed: the controller restarts .*then it switches over to an updated replica, then restarts ${before}`,
      ),
    );
    const status = await site.status();
    assert.equal(status.primaryEpoch, epoch + 1, "exactly one change of primary");
    assert.notEqual(status.primary, before);
    assert.equal(status.database.rollout, undefined, "nothing left to restart");
    for (const pod of databasePods(status)) {
      const [row] = await site.sqlAsApp(await site.podAddress(pod.name), "SELECT @@max_connections AS m");
      assert.equal(Number(row?.m), maxConnections, `${pod.name} runs the new setting`);
    }
    assert.deepEqual(await site.missingOn(writer, status.primary ?? "", report.acknowledged), []);
    await assertRolledInOrder(site, eventsBefore, before);
    console.log(
      `local rolling update of 3 instances: ${rollSeconds.toFixed(1)} s; longest write gap ${(report.longestGapMs / 1000).toFixed(2)} s`,
    );
  });
  it("a new mariadbd installed under the running servers (a package upgrade) is rolled at once the same way: every instance ends on it, one change of primary, nothing lost", async () => {
    const whole = await site.waitFor("whole", isWhole);
    const before = whole.primary ?? "";
    const epoch = whole.primaryEpoch ?? 0;
    const eventsBefore = (await site.events()).length;
    const writer = await site.writer();
    writer.start();
    await sleep(1000);
    // As dpkg installs a new version: written beside the old file, then renamed over its path. The
    // bytes differ (trailing data an ELF loader ignores), like two builds.
    const program = join(programDir, "mariadbd");
    copyFileSync(SYSTEM_MARIADBD, `${program}.new`);
    appendFileSync(`${program}.new`, "hapress test: version 2\n");
    chmodSync(`${program}.new`, 0o755);
    renameSync(`${program}.new`, program);
    const started = Date.now();
    const installed = statSync(program).ino;
    const onNewProgram = async (pod: string) =>
      statSync(`/proc/${await site.mariadbdPid(pod)}/exe`).ino === installed;
    let status = whole;
    await eventually(
      "every instance on the new mariadbd, the roll over",
      async () => {
        status = await site.status();
        if (!isWhole(status) || status.database.rollout !== undefined) return false;
        const pods = databasePods(status).map((pod) => pod.name);
        return (await Promise.all(pods.map(onNewProgram))).every(Boolean);
      },
      120_000,
    );
    const rollSeconds = (Date.now() - started) / 1000;
    await sleep(1000);
    const report = await writer.stop();
    assert.equal(status.primaryEpoch, epoch + 1, "exactly one change of primary");
    assert.deepEqual(await site.missingOn(writer, status.primary ?? "", report.acknowledged), []);
    await assertRolledInOrder(site, eventsBefore, before);
    console.log(
      `local upgrade of mariadbd, 3 instances: ${rollSeconds.toFixed(1)} s from the install; longest write gap ${(report.longestGapMs / 1000).toFixed(2)} s`,
    );
  });
});

describe("a hung primary (SIGSTOP)", () => {
  const site = new TestSite(makeSiteDir("hang"));
  before(async () => {
    await site.up();
  });
  after(async () => {
    await site.destroy();
  });

  it("fails over; at every observation at most one instance is writable; the old primary is fenced then rejoins", async () => {
    const status = await site.status();
    const secrets = site.secrets();
    const pods = status.pods.filter((p) => p.component === "mysql");
    let monitoring = true;
    let maxWritable = 0;
    let observations = 0;
    const monitorUntil = Date.now() + 300_000;
    const monitor = (async () => {
      while (monitoring && Date.now() < monitorUntil) {
        const writable = await Promise.all(
          pods.map(async (p) => {
            try {
              const session = await connectSql(
                { host: p.address, port: 3306 },
                { user: secrets.adminUser, password: secrets.adminPassword },
                { connectTimeoutMs: 300, queryTimeoutMs: 300 },
              );
              try {
                const [row] = await session.query("SELECT @@global.read_only AS ro");
                return Number(row?.ro) === 0;
              } finally {
                await session.close();
              }
            } catch {
              return false;
            }
          }),
        );
        maxWritable = Math.max(maxWritable, writable.filter(Boolean).length);
        observations++;
        await sleep(100);
      }
    })();
    try {
      const writer = await site.writer();
      writer.start();
      await sleep(1500);
      const oldPid = await site.mariadbdPid("mysql-0");
      await stopProcess(oldPid);
      const primary = await waitForNewPrimary(site, "mysql-0");
      signal(oldPid, "SIGCONT");
      await sleep(1500);
      const report = await writer.stop();
      assert.deepEqual(await site.missingOn(writer, primary, report.acknowledged), []);
      const old = await site.pod("mysql-0");
      await assert.rejects(
        site.sqlAsApp(`${old.address}:3306`, "INSERT INTO hapress_chaos_writes (id) VALUES (1)"),
        "the old primary accepts no write",
      );
      await assertRejoined(site, "mysql-0", primary);
    } finally {
      monitoring = false;
      await monitor;
    }
    assert.ok(observations > 10, `observations: ${observations}`);
    assert.equal(maxWritable, 1, "never two writable instances");
  });

  it("`hapress chaos` measures a failover and reports no lost write", async () => {
    const result = await site.cli(["chaos", "--scenario", "primary-kill", "--runs", "1", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const { runs } = JSON.parse(result.stdout) as { runs: ScenarioRun[] };
    assert.equal(runs.length, 1);
    const run = runs[0];
    assert.ok(run);
    assert.notEqual(run.primaryAfter, run.primaryBefore);
    assert.equal(run.failovers, 1);
    assert.equal(run.lost, 0);
    assert.equal(run.mostWriters, 1, "one writable instance at a time, and one there was");
    assert.ok(run.acknowledged > 0);
    assert.ok(run.writes.longestOutageMs > 0);
    assert.deepEqual(run.problems, []);
  });
});

describe("the controller killed in the middle of a failover", () => {
  const site = new TestSite(makeSiteDir("crash"));
  before(async () => {
    await site.up();
  });
  after(async () => {
    await site.destroy();
  });

  it("is restarted and completes the failover", async () => {
    // The kill lands once the failover has begun (the event file is read every quarter second, so
    // often after the promotion too); wherever it lands, the restarted controller must finish from
    // what was saved. A crash after each step is covered deterministically by the Controller's unit
    // tests (src/controller/controller.test.ts).
    const events = statePaths(site.stateDir).events;
    // The file appears with the site's first event.
    const failoverStarts = () =>
      (existsSync(events) ? readFileSync(events, "utf8") : "").match(/"failover-started"/g)?.length ?? 0;
    const startedBefore = failoverStarts();
    const controllerPid = (await site.pod("controller")).pids[0];
    assert.ok(controllerPid, "the controller runs");
    const writer = await site.writer();
    writer.start();
    await sleep(1000);
    signal(await site.mariadbdPid("mysql-0"), "SIGKILL");
    await eventually("the failover started", () => Promise.resolve(failoverStarts() > startedBefore), 30_000);
    signal(controllerPid, "SIGKILL");
    const primary = await waitForNewPrimary(site, "mysql-0");
    await sleep(1000);
    const report = await writer.stop();
    const controller = await site.pod("controller");
    assert.ok(controller.restarts >= 1, "the supervisor restarted the controller");
    assert.notEqual(controller.pids[0], controllerPid);
    assert.deepEqual(await site.missingOn(writer, primary, report.acknowledged), []);
    await assertRejoined(site, "mysql-0", primary);
  });
});

describe("a majority lost", () => {
  const site = new TestSite(makeSiteDir("maj"));
  before(async () => {
    await site.up();
  });
  after(async () => {
    await site.destroy();
  });

  it("never lets a stopped server stall a session: a query times out and close() returns", async () => {
    const [host = "", port = "3306"] = (await site.podAddress("mysql-2")).split(":");
    const secrets = site.secrets();
    const session = await connectSql(
      { host, port: Number(port) },
      { user: secrets.adminUser, password: secrets.adminPassword },
      { queryTimeoutMs: 1000, closeTimeoutMs: 500 },
    );
    const pid = await site.mariadbdPid("mysql-2");
    await stopProcess(pid);
    try {
      await assert.rejects(session.query("SELECT 1"), "a query to a stopped server fails");
      const started = Date.now();
      await session.close();
      // Generous: the bound is 0.5 s; before the fix close() never returned at all.
      assert.ok(Date.now() - started < 5000, `close() took ${Date.now() - started} ms`);
    } finally {
      signal(pid, "SIGCONT");
    }
    await eventually("the site ready again", async () => (await site.status()).ready);
  });

  it("promotes nobody and says why", async () => {
    const primaryPid = await site.mariadbdPid("mysql-0");
    const replicaPid = await site.mariadbdPid("mysql-2");
    await stopProcess(replicaPid);
    await stopProcess(primaryPid);
    try {
      await eventually(
        "a refusal event",
        async () =>
          (await site.events()).some((e) => e.kind === "failover-refused" && /no majority/.test(e.message)),
        60_000,
      );
      await sleep(2000);
      const status = await site.status();
      assert.equal(status.primary, "mysql-0", "no promotion");
      const mysql1 = status.pods.find((p) => p.name === "mysql-1");
      assert.equal(mysql1?.readOnly, true, "the surviving replica stayed read-only");
    } finally {
      signal(replicaPid, "SIGCONT");
      signal(primaryPid, "SIGCONT");
    }
    await eventually("the site healthy again under mysql-0", async () => {
      const status = await site.status();
      return status.ready && status.primary === "mysql-0";
    });
    await eventually("an event saying mysql-0 takes writes again", async () =>
      (await site.events()).some(
        (e) =>
          e.kind === "primary-back" &&
          e.instance === "mysql-0" &&
          /answers again and takes writes, \d+\.\d\d s after it stopped answering/.test(e.message),
      ),
    );
  });

  it("restarts a primary killed again and again without a majority, and says each time when it takes writes", async () => {
    const { primaryEpoch, endpoints } = await site.status();
    const primaryEndpoint = endpoints.mysqlPrimary;
    await site.sqlAsApp(primaryEndpoint, "CREATE TABLE kills (n INT PRIMARY KEY)");
    const backs = async () =>
      (await site.events()).filter((e) => e.kind === "primary-back" && e.instance === "mysql-0").length;
    const replicaPid = await site.mariadbdPid("mysql-2");
    await stopProcess(replicaPid);
    try {
      // Killed before the controller has seen the replica gone, the primary would be failed over.
      await eventually("the controller sees mysql-2 unreachable", async () => {
        const seen = await callRpc<Observation | null>(
          statePaths(site.stateDir).controllerSocket,
          { method: "observation" },
          5000,
        );
        return seen?.instances.find((i) => i.name === "mysql-2")?.reachable === false;
      });
      for (let kill = 1; kill <= 3; kill++) {
        const before = await backs();
        signal(await site.mariadbdPid("mysql-0"), "SIGKILL");
        // Its restart is the only recovery here: not held back by the crash-loop backoff, which
        // would double with each kill (the timing itself is measured by npm run bench).
        await eventually(
          `mysql-0 takes writes again after kill ${kill}`,
          async () => (await backs()) > before,
        );
        await eventually(`a write through mysql-primary after kill ${kill}`, async () => {
          await site.sqlAsApp(primaryEndpoint, "INSERT INTO kills VALUES (?)", [kill]);
          return true;
        });
      }
      const status = await site.status();
      assert.equal(status.primary, "mysql-0", "no promotion");
      assert.equal(status.primaryEpoch, primaryEpoch, "no failover");
      const rows = await site.sqlAsApp(primaryEndpoint, "SELECT n FROM kills ORDER BY n");
      assert.deepEqual(
        rows.map((r) => Number(r.n)),
        [1, 2, 3],
      );
    } finally {
      signal(replicaPid, "SIGCONT");
    }
    await eventually("the site ready again", async () => (await site.status()).ready);
  });
});

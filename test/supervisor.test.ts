import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SiteStatus } from "../src/status/site-status.js";
import { sleep } from "../src/util/process.js";
import { eventually, makeSiteDir, TestSite } from "./helpers/site.js";

const PORT = 18_482;
const SITE = `http://127.0.0.1:${PORT}`;

/** Steady page reads through the load balancer, counting every failure with its reason. */
function startReader(): { stop: () => Promise<{ ok: number; failures: string[] }> } {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const client = async () => {
    // Bounded by the flag and by 5,000 requests per client.
    for (let i = 0; running && i < 5000; i++) {
      try {
        const response = await fetch(`${SITE}/`, { signal: AbortSignal.timeout(15_000) });
        await response.arrayBuffer();
        if (response.status === 200) ok++;
        else failures.push(`HTTP ${response.status}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
      await sleep(50);
    }
  };
  const clients = Promise.all([client(), client()]);
  return {
    stop: async () => {
      running = false;
      await clients;
      return { ok, failures };
    },
  };
}

/** Every process of the site by pod, "pod:pid,pid", to compare before and after. */
function processMap(status: SiteStatus): string[] {
  return status.pods.map((p) => `${p.name}:${[...p.pids].sort((a, b) => a - b).join(",")}`).sort();
}

function killSupervisor(status: SiteStatus): number {
  const pid = status.supervisorPid;
  assert.ok(pid, "a supervisor runs");
  process.kill(pid, "SIGKILL");
  return pid;
}

async function waitUntilGone(pid: number): Promise<void> {
  await eventually(
    `supervisor ${pid} gone`,
    () => {
      try {
        process.kill(pid, 0);
        return Promise.resolve(false);
      } catch {
        return Promise.resolve(true);
      }
    },
    10_000,
  );
}

describe("the local target's supervisor can die without the site losing availability", () => {
  const site = new TestSite(
    makeSiteDir("sv"),
    `local:\n  httpPort: ${PORT}\nwordpress:\n  replicas: 2\nsite:\n  title: Supervisor Test\n`,
  );
  before(async () => {
    await site.up();
  });
  after(async () => {
    await site.destroy();
  });

  it("kill -9 of the supervisor under writes and page reads: a new one adopts every process (same PIDs), nothing fails", async () => {
    const before = await site.status();
    assert.equal(before.ready, true);
    const writer = await site.writer();
    writer.start();
    const reader = startReader();
    await sleep(1000);
    const dead = killSupervisor(before);
    await waitUntilGone(dead);
    await sleep(2000);
    const unsupervised = await site.status();
    assert.ok(unsupervised.unsupervised, "status says the supervisor is missing");
    assert.equal(unsupervised.supervisorPid, null);
    assert.deepEqual(processMap(unsupervised), processMap(before), "status still shows every process");
    const text = await site.cli(["status"]);
    assert.match(text.stdout, /running WITHOUT its supervisor/);
    const up = await site.up();
    assert.match(up.stdout + up.stderr, /adopting them/);
    const after = await site.status();
    assert.ok(after.supervisorPid && after.supervisorPid !== dead, "a new supervisor");
    assert.equal(after.unsupervised, undefined);
    assert.deepEqual(processMap(after), processMap(before), "every process kept its PID");
    assert.equal(after.primary, before.primary);
    assert.deepEqual(
      after.pods.map((p) => p.restarts),
      before.pods.map(() => 0),
      "nothing was restarted",
    );
    await sleep(1000);
    const reads = await reader.stop();
    const writes = await writer.stop();
    assert.equal(writes.failedAttempts, 0, "no write failed");
    assert.ok(writes.acknowledged.length > 50, `writes went on: ${writes.acknowledged.length}`);
    assert.deepEqual(reads.failures, [], "no page read failed");
    assert.ok(reads.ok > 20, `pages were read: ${reads.ok}`);
  });

  it("after the adoption, kill -9 of the primary still fails over with no acknowledged write lost", async () => {
    const old = (await site.status()).primary ?? "";
    const writer = await site.writer();
    writer.start();
    await sleep(1000);
    process.kill(await site.mariadbdPid(old), "SIGKILL");
    let primary = old;
    await eventually(
      `a primary other than ${old}`,
      async () => {
        const status = await site.status();
        primary = status.primary ?? old;
        return primary !== old && status.ready;
      },
      90_000,
    );
    await sleep(1000);
    const report = await writer.stop();
    assert.deepEqual(await site.missingOn(writer, primary, report.acknowledged), []);
    const events = await site.events();
    const started = events.filter((e) => e.kind === "failover-started").at(-1);
    // The adopted mariadbd is not the new supervisor's child: its exit is seen in /proc, and reported.
    assert.match(started?.message ?? "", /reported by its owner/);
  });

  it("a primary killed while no supervisor runs is still failed over; the next supervisor brings the old one back", async () => {
    await sleep(3500); // past the controller's cooldown
    const before = await site.status();
    const old = before.primary ?? "";
    const writer = await site.writer();
    writer.start();
    await sleep(1000);
    await waitUntilGone(killSupervisor(before));
    process.kill(await site.mariadbdPid(old), "SIGKILL");
    // No supervisor: the controller fences, promotes and re-routes on its own. Generous deadlines:
    // each poll is a whole CLI run, slow on a busy machine; how fast is the chaos matrix's business.
    let primary = old;
    await eventually(
      `a primary other than ${old} with no supervisor`,
      async () => {
        const status = await site.status();
        primary = status.primary ?? old;
        return primary !== old;
      },
      60_000,
    );
    await eventually(
      "writes acknowledged again through mysql-primary",
      async () => {
        const rows = await site
          .sqlAsApp(before.endpoints.mysqlPrimary, "SELECT @@read_only AS ro")
          .catch(() => []);
        return Number(rows[0]?.ro) === 0;
      },
      60_000,
    );
    const during = await site.status();
    assert.ok(during.unsupervised, "still no supervisor");
    const events = await site.events();
    assert.ok(
      events.some((e) => e.kind === "promoted" && e.instance === primary),
      events.map((e) => `${e.kind} ${e.message}`).join("\n"),
    );
    await site.up();
    await eventually(
      `${old} back as a replica of ${primary}`,
      async () => {
        const status = await site.status();
        const pod = status.pods.find((p) => p.name === old);
        return status.ready && status.primary === primary && pod?.role === "replica" && pod.ready === true;
      },
      120_000,
    );
    const report = await writer.stop();
    assert.deepEqual(await site.missingOn(writer, primary, report.acknowledged), []);
  });

  it("hapress service install writes a unit that runs this site's supervisor and passes systemd-analyze verify", async () => {
    const unitDir = mkdtempSync(join(tmpdir(), "hapress-units-"));
    try {
      const installed = await site.cli(["service", "install", "--unit-dir", unitDir]);
      assert.equal(installed.code, 0, installed.stderr);
      const [name] = readdirSync(unitDir);
      assert.match(name ?? "", /^hapress-[a-z0-9-]+-[0-9a-f]{8}\.service$/);
      const path = join(unitDir, name ?? "");
      assert.equal(statSync(path).mode & 0o777, 0o644);
      const unit = readFileSync(path, "utf8");
      assert.ok(unit.includes(`--dir ${site.stateDir} supervise`), unit);
      assert.match(installed.stdout, /enable --now/);
      const verify = spawnSync("systemd-analyze", ["verify", path], { encoding: "utf8" });
      assert.equal(verify.status, 0, `${verify.stdout}${verify.stderr}`);
      const status = await site.cli(["service", "status", "--unit-dir", unitDir]);
      assert.match(status.stdout, new RegExp(`unit: ${name} \\(${path}\\)`));
      const removed = await site.cli(["service", "uninstall", "--unit-dir", unitDir]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.deepEqual(readdirSync(unitDir), []);
      assert.equal((await site.status()).ready, true, "the site was not touched");
    } finally {
      rmSync(unitDir, { recursive: true, force: true });
    }
  });

  it("hapress down with no supervisor stops every recorded process", async () => {
    const before = await site.status();
    const pids = before.pods.flatMap((p) => p.pids);
    assert.ok(pids.length >= 8, `the site's processes: ${pids.join(",")}`);
    await waitUntilGone(killSupervisor(before));
    const down = await site.cli(["down"]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /stopped \d+ leftover process/);
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    assert.deepEqual(alive, [], "nothing of the site runs");
    assert.equal((await site.status()).unsupervised, undefined);
  });
});

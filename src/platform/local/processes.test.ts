import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { processExists, sleep, waitFor } from "../../util/process.js";
import { leaderlessGroupMembers, parseProcStat, procIdentity } from "./proc.js";
import { adoptableRecords } from "./process-records.js";
import { ProcessManager, restartDelayMs } from "./processes.js";

describe("restart backoff", () => {
  const policy = { initialMs: 1000, maxMs: 60_000, resetAfterMs: 60_000 };
  it("doubles from the initial delay up to the cap", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => restartDelayMs(n, policy)),
      [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000],
    );
  });
});

describe("process manager", () => {
  it("restarts a killed process, counts the restart, and stops it by PID", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hp-pm-"));
    const events: string[] = [];
    const manager = new ProcessManager({ initialMs: 50, maxMs: 200, resetAfterMs: 10_000 }, (e) =>
      events.push(e),
    );
    try {
      manager.ensure({
        name: "pod/sleeper",
        pod: "pod",
        command: "sh",
        args: ["-c", "echo hello; exec sleep 60"],
        logFile: join(dir, "pod.log"),
      });
      const firstPid = manager.info("pod/sleeper")?.pid;
      assert.ok(firstPid);
      const log = () => readFileSync(join(dir, "pod.log"), "utf8");
      await waitFor("the first output", () => Promise.resolve(log() === "hello\n" || null), {
        timeoutMs: 5000,
        intervalMs: 20,
      });
      process.kill(firstPid, "SIGKILL");
      const secondPid = await waitFor(
        "a restart",
        () => {
          const pid = manager.info("pod/sleeper")?.pid;
          return Promise.resolve(pid && pid !== firstPid ? pid : null);
        },
        { timeoutMs: 5000, intervalMs: 20 },
      );
      assert.equal(manager.info("pod/sleeper")?.restarts, 1);
      await waitFor(
        "the restarted process's output",
        () => Promise.resolve(log() === "hello\nhello\n" || null),
        { timeoutMs: 5000, intervalMs: 20 },
      );
      await manager.stop("pod/sleeper", 2000);
      assert.equal(processExists(secondPid), false);
      assert.equal(manager.info("pod/sleeper"), null);
      await sleep(100);
      assert.ok(events.some((e) => e.includes("killed by SIGKILL")));
    } finally {
      await manager.stopAll(1000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a program replaced under a running process (a package upgrade)", () => {
  it("is told apart from the program the process started from, and not when only removed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hp-pm-"));
    const program = join(dir, "sleep");
    copyFileSync("/bin/sleep", program);
    const manager = new ProcessManager({ initialMs: 50, maxMs: 200, resetAfterMs: 10_000 }, () => undefined);
    try {
      manager.ensure({
        name: "pod/sleeper",
        pod: "pod",
        command: program,
        args: ["60"],
        logFile: join(dir, "log"),
      });
      await waitFor("the process", () => Promise.resolve(manager.info("pod/sleeper")?.pid ?? null), {
        timeoutMs: 5000,
        intervalMs: 20,
      });
      assert.equal(await manager.runsReplacedProgram("pod/sleeper"), false, "the program it started from");
      unlinkSync(program);
      assert.equal(await manager.runsReplacedProgram("pod/sleeper"), false, "removed: nothing newer to run");
      // As dpkg installs: the new version written beside, then renamed over the path.
      copyFileSync("/bin/sleep", `${program}.new`);
      renameSync(`${program}.new`, program);
      assert.equal(await manager.runsReplacedProgram("pod/sleeper"), true, "a new version at its path");
      assert.equal(await manager.runsReplacedProgram("pod/absent"), false);
    } finally {
      await manager.stopAll(1000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a process whose restart backoff is capped", () => {
  it("comes back within its cap while the manager's policy would wait a minute", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hp-cap-"));
    const manager = new ProcessManager(
      { initialMs: 60_000, maxMs: 60_000, resetAfterMs: 60_000 },
      () => undefined,
    );
    try {
      manager.ensure({
        name: "pod/brain",
        pod: "pod",
        command: "sleep",
        args: ["60"],
        logFile: join(dir, "pod.log"),
        maxRestartDelayMs: 100,
      });
      let pid = manager.info("pod/brain")?.pid;
      // Killed three times in a row: each restart still within the cap (the policy says 60 s).
      for (let kill = 1; kill <= 3; kill++) {
        assert.ok(pid);
        const killed: number = pid;
        process.kill(killed, "SIGKILL");
        pid = await waitFor(
          `restart ${kill}`,
          () => {
            const now = manager.info("pod/brain")?.pid;
            return Promise.resolve(now && now !== killed ? now : null);
          },
          { timeoutMs: 10_000, intervalMs: 20 },
        );
      }
      assert.equal(manager.info("pod/brain")?.restarts, 3);
    } finally {
      await manager.stopAll(1000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("adoption of a previous supervisor's processes", () => {
  it("takes over a running process without restarting it, notices its exit, restarts it once its spec is known", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hp-adopt-"));
    const policy = { initialMs: 50, maxMs: 200, resetAfterMs: 10_000 };
    const first = new ProcessManager(policy, () => undefined);
    const second = new ProcessManager(policy, () => undefined);
    const spec = {
      name: "pod/sleeper",
      pod: "pod",
      command: "sh",
      args: ["-c", "exec sleep 60"],
      logFile: join(dir, "pod.log"),
    };
    try {
      first.ensure(spec);
      const [record] = first.records();
      assert.ok(record, "the first manager records its process");
      assert.equal(record.pid, first.info("pod/sleeper")?.pid);
      assert.equal(record.startTicks, procIdentity(record.pid)?.startTicks);
      first.release(); // as a supervisor that dies: the process keeps running
      second.adopt(record);
      assert.equal(second.info("pod/sleeper")?.pid, record.pid, "same PID, not restarted");
      second.ensure(spec); // the new supervisor states what it wants: no restart
      assert.equal(second.info("pod/sleeper")?.pid, record.pid);
      process.kill(record.pid, "SIGKILL");
      const restarted = await waitFor(
        "a restart of the adopted process",
        () => {
          const pid = second.info("pod/sleeper")?.pid;
          return Promise.resolve(pid && pid !== record.pid ? pid : null);
        },
        { timeoutMs: 5000, intervalMs: 20 },
      );
      assert.equal(second.info("pod/sleeper")?.restarts, 1);
      await second.stop("pod/sleeper", 2000);
      assert.equal(processExists(restarted), false);
    } finally {
      await first.stopAll(1000);
      await second.stopAll(1000);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("adopts only the recorded process: a PID whose start time differs is someone else", () => {
    const record = {
      name: "a/x",
      pod: "a",
      pid: 4242,
      startTicks: 100,
      command: "x",
      args: [],
      logFile: "/tmp/x.log",
    };
    const legacy = { pid: 4343, name: "b/y" };
    assert.deepEqual(
      adoptableRecords([record, legacy], () => 100),
      [record],
    );
    assert.deepEqual(
      adoptableRecords([record], () => 101),
      [],
      "recycled PID",
    );
    assert.deepEqual(
      adoptableRecords([record], () => null),
      [],
      "gone",
    );
  });

  it("finds the workers a killed group leader left behind, and nothing while the leader lives", async () => {
    const leader = spawn("sh", ["-c", "sleep 30 & sleep 30 & wait"], { detached: true, stdio: "ignore" });
    const pid = leader.pid ?? 0;
    try {
      await waitUntil(() => Promise.resolve(countChildren(pid) === 2));
      assert.deepEqual(leaderlessGroupMembers(pid), [], "the leader runs: not ours to judge");
      const exited = new Promise((resolve) => leader.on("exit", resolve));
      process.kill(pid, "SIGKILL");
      await exited;
      const left = leaderlessGroupMembers(pid);
      assert.equal(left.length, 2, "both sleeps outlive their leader");
      for (const member of left) process.kill(member, "SIGKILL");
      await waitUntil(() => Promise.resolve(leaderlessGroupMembers(pid).length === 0));
    } finally {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  });

  it("reads a process's state and start time from /proc/PID/stat, whatever its name holds", () => {
    const stat = "1234 (we ird) name)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
    assert.deepEqual(parseProcStat(1234, stat), { pid: 1234, state: "S", startTicks: 987654, group: 1234 });
    assert.equal(parseProcStat(1, "garbage"), null);
    assert.equal(procIdentity(process.pid)?.pid, process.pid);
  });
});

/** The live processes whose parent is `pid`. */
function countChildren(pid: number): number {
  return readdirSync("/proc").filter((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, "utf8");
      return (
        Number(
          text
            .slice(text.lastIndexOf(")") + 1)
            .trim()
            .split(/\s+/)[1],
        ) === pid
      );
    } catch {
      return false;
    }
  }).length;
}

/** Polls `check` every 50 ms for at most 10 s. */
async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("timed out");
}

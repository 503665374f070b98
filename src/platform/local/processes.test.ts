import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { processExists, sleep, waitFor } from "../../util/process.js";
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

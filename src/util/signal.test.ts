import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { signalGroup, signalProcess } from "./process.js";

test("signalling a process or group says whether it was there, quietly when gone", async () => {
  const child = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
  const pid = child.pid ?? 0;
  assert.ok(pid > 0);
  const exited = once(child, "exit");
  assert.equal(signalGroup(pid, "SIGKILL"), true, "its group (it leads one: detached)");
  await exited;
  assert.equal(signalProcess(pid, "SIGTERM"), false, "gone: no throw");
  assert.equal(signalGroup(pid, "SIGTERM"), false, "its group gone too");
});

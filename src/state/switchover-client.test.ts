import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { requestSwitchover } from "./switchover-client.js";
import { newSwitchoverRequest } from "./switchover-request.js";
import { openRequest, SwitchoverFiles } from "./switchover-store.js";

/** A state folder's two files, and a "controller" that reports steps when the requester sleeps. */
function setup(controller: (store: SwitchoverFiles, id: string, poll: number) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), "switchover-"));
  const store = new SwitchoverFiles(join(dir, "request.json"), join(dir, "progress.json"));
  let poll = 0;
  const lines: string[] = [];
  /** Each sleep moves this clock by the poll interval and lets other work run. */
  let clock = Date.parse("2026-12-06T10:00:00Z");
  const run = () =>
    requestSwitchover(store, {
      to: "mysql-1",
      deadlineMs: 1000,
      onStep: (line) => lines.push(line),
      pollMs: 10,
      now: () => new Date(clock),
      sleep: async (ms) => {
        clock += ms;
        await new Promise((resolve) => setImmediate(resolve));
        const request = await openRequest(store);
        if (request) await controller(store, request.id, poll++);
      },
    });
  return { dir, store, lines, run, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test("the requester prints each step once and resolves with the last when the controller is done", async () => {
  const s = setup(async (store, id, poll) => {
    if (poll === 0)
      await store.report(id, { at: new Date().toISOString(), message: "mysql-0 made read-only" }, "running");
    if (poll === 3)
      await store.report(id, { at: new Date().toISOString(), message: "switched over" }, "done");
  });
  try {
    assert.equal(await s.run(), "switched over");
    assert.deepEqual(s.lines, ["mysql-0 made read-only", "switched over"]);
    assert.equal(statSync(join(s.dir, "request.json")).mode & 0o777, 0o600);
    assert.equal(await openRequest(s.store), null, "a finished request is not open any more");
  } finally {
    s.cleanup();
  }
});

test("a refusal or rollback is an error carrying the controller's reason, printed once", async () => {
  const s = setup(async (store, id) => {
    await store.report(
      id,
      { at: new Date().toISOString(), message: "refused: mysql-1 is not a replica" },
      "failed",
    );
  });
  try {
    await assert.rejects(s.run(), /switchover failed: refused: mysql-1 is not a replica/);
    assert.deepEqual(s.lines, []);
  } finally {
    s.cleanup();
  }
});

test("a second request is refused while one is waiting for the controller", async () => {
  const s = setup(() => Promise.resolve());
  try {
    await s.store.submit(
      newSwitchoverRequest({
        id: "0123456789abcdef",
        to: null,
        deadlineMs: 1000,
        requestedBy: "ops@host",
        now: new Date(),
      }),
    );
    await assert.rejects(
      s.run(),
      /a switchover requested by ops@host at .* is waiting for the controller: wait for it to end/,
    );
  } finally {
    s.cleanup();
  }
});

test("a request no controller takes up is withdrawn when it expires", async () => {
  const s = setup(() => Promise.resolve());
  try {
    await assert.rejects(s.run(), /no controller took up the switchover request within 30 s/);
    assert.equal(await openRequest(s.store), null, "withdrawn");
  } finally {
    s.cleanup();
  }
});

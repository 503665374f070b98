import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Controller, type ControllerDeps } from "./controller.js";
import { defaultControllerConfig } from "./decide.js";
import { FakeDatabase, FakePlatform } from "./fakes.js";
import type { Action } from "./types.js";

/** A three-instance tier (mysql-0 primary) with a clock the controller's sleeps move. */
function world(count = 3) {
  const calls: string[] = [];
  const database = new FakeDatabase(count, calls);
  const platform = new FakePlatform(database, calls);
  const clock = { now: 1_000_000 };
  const controller = (extra: Partial<ControllerDeps> = {}) =>
    new Controller({
      platform,
      instances: database,
      config: defaultControllerConfig,
      now: () => clock.now,
      sleep: (ms) => {
        clock.now += ms;
        database.tick();
        return Promise.resolve();
      },
      log: () => undefined,
      ...extra,
    });
  /** One round 250 ms after the last; no round may ever see two writable instances. */
  const round = async (c: Controller) => {
    clock.now += 250;
    database.tick();
    await c.runOnce();
    assert.ok(database.writable().length <= 1, `writable at once: ${database.writable().join(", ")}`);
  };
  /** Rounds until the check holds (at most `limit`). */
  const roundsUntil = async (c: Controller, what: string, check: () => boolean, limit = 40) => {
    for (let i = 0; i < limit && !check(); i++) await round(c);
    assert.ok(check(), `${what} within ${limit} rounds; calls: ${calls.join(" | ")}`);
  };
  /** mysql-0 crashes with mysql-1 ahead of mysql-2 (which stopped applying after 5 transactions). */
  const crashPrimaryWithMysql1Ahead = () => {
    database.write(5);
    database.server("mysql-2").stuck = true;
    database.write(3);
    database.server("mysql-0").up = false;
  };
  return { calls, database, platform, clock, controller, round, roundsUntil, crashPrimaryWithMysql1Ahead };
}

function before(calls: string[], first: string, then: string): void {
  const [a, b] = [calls.indexOf(first), calls.indexOf(then)];
  assert.ok(a >= 0 && b >= 0 && a < b, `'${first}' before '${then}' in: ${calls.join(" | ")}`);
}

describe("the controller, through fakes of its ports", () => {
  it("fails over a crashed primary in order: fence, save the failover, promote the most advanced replica, record, route, release", async () => {
    const w = world();
    const c = w.controller();
    await w.round(c);
    w.crashPrimaryWithMysql1Ahead();
    c.noteExit("mysql-0", "killed by SIGKILL");
    await w.roundsUntil(c, "a new primary", () => w.platform.primary !== "mysql-0");
    assert.equal(w.platform.primary, "mysql-1", "the replica that received the most");
    for (const [first, then] of <[string, string][]>[
      ["kill mysql-0", "saveMemory failover from mysql-0"],
      ["saveMemory failover from mysql-0", "stopReplicationIo mysql-1"],
      ["stopReplicationIo mysql-1", "promote mysql-1"],
      ["promote mysql-1", "recordPrimary mysql-1"],
      ["recordPrimary mysql-1", "route mysql-1"],
      ["route mysql-1", "release mysql-0"],
    ])
      before(w.calls, first, then);
    assert.deepEqual(
      w.platform.events.filter((e) => e.kind === "promoted").map((e) => e.instance),
      ["mysql-1"],
    );
    // Whole again: the released old primary is re-pointed at the new one, read-only.
    await w.roundsUntil(
      c,
      "mysql-0 following mysql-1",
      () => w.database.server("mysql-0").source === "mysql-1",
    );
    assert.deepEqual(w.database.writable(), ["mysql-1"]);
    assert.equal(w.platform.memory?.failover, null, "the failover's end is saved");
  });

  for (const step of ["fence", "stopReplicationIo", "promote", "recordPrimary", "route", "release"]) {
    it(`a controller that dies right after '${step}' is succeeded by one that finishes: one promotion, never two writers`, async () => {
      const w = world();
      const first = w.controller({
        afterAction: (action: Action) => {
          if (action.kind === step) throw new Error(`died after ${step}`);
        },
      });
      await w.round(first);
      w.crashPrimaryWithMysql1Ahead();
      first.noteExit("mysql-0", "killed by SIGKILL");
      await w.roundsUntil(first, `the first controller reaching '${step}'`, () =>
        w.platform.events.some((e) => e.kind === "action-failed" && e.message.includes(`died after ${step}`)),
      );
      // Its successor knows only what was saved durably (the platform's memory).
      const successor = w.controller();
      await successor.restore();
      await w.roundsUntil(
        successor,
        "the site whole again under mysql-1",
        () =>
          w.platform.primary === "mysql-1" &&
          w.platform.routed === "mysql-1" &&
          !w.platform.held.has("mysql-0") &&
          w.database.server("mysql-0").source === "mysql-1",
      );
      assert.deepEqual(w.database.writable(), ["mysql-1"]);
      assert.equal(
        w.calls
          .filter((call) => call.startsWith("recordPrimary"))
          .every((call) => call === "recordPrimary mysql-1"),
        true,
        w.calls.join(" | "),
      );
    });
  }

  it("does nothing once it may no longer act (leadership lost), and says why", async () => {
    const w = world();
    let leading = true;
    const c = w.controller({ mayAct: () => leading });
    await w.round(c);
    w.crashPrimaryWithMysql1Ahead();
    c.noteExit("mysql-0", "killed by SIGKILL");
    leading = false;
    for (let i = 0; i < 5; i++) await w.round(c);
    assert.ok(!w.calls.some((call) => /^(kill|promote|recordPrimary|route)/.test(call)), w.calls.join(" | "));
    assert.ok(w.platform.events.some((e) => e.kind === "action-failed" && /leadership lost/.test(e.message)));
    assert.equal(w.platform.primary, "mysql-0");
  });

  it("with automatic failover off, reports the dead primary and promotes nothing", async () => {
    const w = world();
    const c = w.controller({ config: { ...defaultControllerConfig, automaticFailover: false } });
    await w.round(c);
    w.crashPrimaryWithMysql1Ahead();
    c.noteExit("mysql-0", "killed by SIGKILL");
    for (let i = 0; i < 10; i++) await w.round(c);
    assert.ok(!w.calls.some((call) => /^(kill|promote|recordPrimary)/.test(call)), w.calls.join(" | "));
    assert.ok(
      w.platform.events.some((e) => e.kind === "failover-disabled"),
      w.platform.events.map((e) => e.kind).join(", "),
    );
  });

  it("switches over in order: fence the primary, read its position, promote the caught-up target, record, route, re-point", async () => {
    const w = world();
    const c = w.controller();
    await w.round(c);
    w.database.write(7);
    const message = await c.switchover("mysql-2", 1000);
    assert.match(message, /switched over from mysql-0 to mysql-2/);
    for (const [first, then] of <[string, string][]>[
      ["fenceReadOnly mysql-0", "binlogPosition mysql-0"],
      ["binlogPosition mysql-0", "promote mysql-2"],
      ["promote mysql-2", "recordPrimary mysql-2"],
      ["recordPrimary mysql-2", "route mysql-2"],
      ["route mysql-2", "repoint(mysql-2) mysql-1"],
      ["route mysql-2", "repoint(mysql-2) mysql-0"],
    ])
      before(w.calls, first, then);
    assert.deepEqual(w.database.writable(), ["mysql-2"]);
    assert.equal(w.database.server("mysql-2").executed, 7, "nothing acknowledged is lost");
  });

  it("rolls a switchover back when the target cannot catch up before the deadline: the old primary is writable again", async () => {
    const w = world();
    const c = w.controller();
    await w.round(c);
    w.database.server("mysql-2").stuck = true;
    w.database.write(4);
    await assert.rejects(c.switchover("mysql-2", 200), /mysql-2 did not catch up within 200 ms; rolled back/);
    before(w.calls, "fenceReadOnly mysql-0", "setWritable mysql-0");
    assert.ok(!w.calls.includes("promote mysql-2"));
    assert.deepEqual(w.database.writable(), ["mysql-0"]);
    assert.equal(w.platform.primary, "mysql-0");
    assert.ok(w.platform.events.some((e) => e.kind === "switchover-failed"));
  });
});

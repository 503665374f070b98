import assert from "node:assert/strict";
import { test } from "node:test";
import type { SiteStatus } from "../status/site-status.js";
import { isWhole, newPrimary, newPrimaryReady, readyWithPodBack, waitForStatus } from "./site-waits.js";

function status(changes: Partial<SiteStatus> = {}, lag: number | null = 0): SiteStatus {
  return {
    ready: true,
    primary: "mysql-0",
    database: { semiSync: "on" },
    pods: [
      { name: "mysql-0", component: "mysql", ready: true, role: "primary", lagSeconds: null },
      { name: "mysql-1", component: "mysql", ready: true, role: "replica", lagSeconds: lag },
    ],
    ...changes,
  } as unknown as SiteStatus;
}

test("whole: ready, replicas caught up (lag, not GTID equality), semi-sync on", () => {
  assert.equal(isWhole(status()), true);
  assert.equal(isWhole(status({}, 3)), false, "a replica 3 s behind");
  assert.equal(isWhole(status({}, null)), false, "a replica not streaming");
  assert.equal(isWhole(status({ database: { semiSync: "off" } } as Partial<SiteStatus>)), false);
  assert.equal(isWhole(status({ ready: false })), false);
});

test("a new primary: another one, and the site ready", () => {
  assert.equal(newPrimary("mysql-0")(status()), false);
  assert.equal(newPrimary("mysql-0")(status({ primary: "mysql-1" })), true);
  assert.equal(newPrimary("mysql-0")(status({ primary: "mysql-1", ready: false })), false);
});

test("a new primary ready: another one whose pod is ready, the rest of the site as it may be", () => {
  const notReady = (name: string) => (p: SiteStatus["pods"][number]) =>
    p.name === name ? { ...p, ready: false } : p;
  assert.equal(newPrimaryReady("mysql-0")(status()), false);
  assert.equal(newPrimaryReady("mysql-0")(status({ primary: "mysql-1", ready: false })), true);
  const partitioned = status({ primary: "mysql-1", ready: false });
  assert.equal(
    newPrimaryReady("mysql-0")({ ...partitioned, pods: partitioned.pods.map(notReady("mysql-1")) }),
    false,
  );
});

test("ready with a deleted pod back: the site ready and that pod ready, whoever is the primary", () => {
  const back = status();
  assert.equal(readyWithPodBack("mysql-0")(back), true, "back as the primary, no failover");
  assert.equal(readyWithPodBack("mysql-0")(status({ primary: "mysql-1" })), true, "failed over");
  const missing = { ...back, pods: back.pods.filter((p) => p.name !== "mysql-0") };
  assert.equal(readyWithPodBack("mysql-0")(missing), false, "not made again yet");
  assert.equal(readyWithPodBack("mysql-0")(status({ ready: false })), false);
});

test("the wait is bounded and names what it waited for and what it last saw", async () => {
  let clock = 0;
  const options = {
    status: () => Promise.resolve(status({ ready: false })),
    sleep: (ms: number) => {
      clock += ms;
      return Promise.resolve();
    },
    now: () => clock,
  };
  await assert.rejects(
    waitForStatus(options, "a new primary", newPrimary("mysql-0"), 1_000),
    /timed out after 1 s waiting for a new primary \(last: primary mysql-0, not ready/,
  );
  let calls = 0;
  const later = {
    ...options,
    status: () => Promise.resolve(status(++calls > 2 ? { primary: "mysql-1" } : {})),
  };
  assert.equal((await waitForStatus(later, "x", newPrimary("mysql-0"), 10_000)).primary, "mysql-1");
});

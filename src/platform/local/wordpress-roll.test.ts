import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PodPlan, Topology } from "../../topology/topology.js";
import { surgePod, WordpressRoll } from "./wordpress-roll.js";

function pod(ordinal: number): PodPlan {
  return {
    name: `wordpress-${ordinal}`,
    component: "wordpress",
    ordinal,
    address: `127.0.0.${50 + ordinal}`,
    port: 8080,
  };
}

const topology = { wordpress: [pod(0), pod(1)] } as unknown as Topology;

/** A load balancer and pods in memory: what is served, and every call in order. */
function world(options: { unhealthy?: string } = {}) {
  const calls: string[] = [];
  const served = new Set(["wordpress-0", "wordpress-1"]);
  const running = new Set(["wordpress-0", "wordpress-1"]);
  const clock = { now: 0 };
  /** The least number of pods serving at any call: the roll must never go below the replicas. */
  let leastServing = served.size;
  const note = (call: string) => {
    calls.push(call);
    const serving = [...served].filter((name) => running.has(name)).length;
    leastServing = Math.min(leastServing, serving);
  };
  const roll = new WordpressRoll({
    balancer: {
      drainWordpress: (name) => {
        served.delete(name);
        note(`drain ${name}`);
        return Promise.resolve();
      },
      serveWordpress: (name) => {
        served.add(name);
        note(`serve ${name}`);
        return Promise.resolve();
      },
      wordpressServer: (name) => Promise.resolve({ up: served.has(name) && running.has(name), sessions: 0 }),
    },
    startPod: (p) => {
      running.add(p.name);
      note(`start ${p.name}`);
      return Promise.resolve();
    },
    stopPod: (p) => {
      running.delete(p.name);
      note(`stop ${p.name}`);
      return Promise.resolve();
    },
    removePod: (p) => {
      note(`remove ${p.name}`);
      return Promise.resolve();
    },
    healthy: (p) => Promise.resolve(running.has(p.name) && p.name !== options.unhealthy),
    log: () => undefined,
    sleep: (ms) => {
      clock.now += ms;
      // The supervisor's reconciliation puts the spare pod in the load balancer once the roll says so.
      if (roll.surge) served.add(roll.surge.name);
      return Promise.resolve();
    },
    now: () => clock.now,
  });
  return { roll, calls, clock, served, leastServing: () => leastServing };
}

describe("the local rolling update of WordPress", () => {
  it("brings a spare pod in first, restarts each pod drained, and takes the spare out last: never fewer serving pods than replicas", async () => {
    const w = world();
    const surge = surgePod(topology, (ordinal) => `127.0.0.${50 + ordinal}`);
    assert.equal(surge.name, "wordpress-2");
    w.roll.start(topology, ["wordpress-0", "wordpress-1"], surge);
    assert.ok(w.roll.active);
    await w.roll.settled();
    assert.deepEqual(w.calls, [
      "start wordpress-2",
      "drain wordpress-0",
      "stop wordpress-0",
      "start wordpress-0",
      "serve wordpress-0",
      "drain wordpress-1",
      "stop wordpress-1",
      "start wordpress-1",
      "serve wordpress-1",
      "drain wordpress-2",
      "stop wordpress-2",
      "remove wordpress-2",
    ]);
    assert.ok(w.leastServing() >= 2, `at one point only ${w.leastServing()} pod(s) served`);
    assert.equal(w.roll.surge, null);
    assert.ok(!w.roll.active);
  });

  it("a pod that does not come up healthy is put back in rotation, the spare removed, and the roll tried again a minute later, not at once", async () => {
    const w = world({ unhealthy: "wordpress-0" });
    const surge = surgePod(topology, (ordinal) => `127.0.0.${50 + ordinal}`);
    w.roll.start(topology, ["wordpress-0", "wordpress-1"], surge);
    await w.roll.settled();
    assert.ok(w.calls.includes("serve wordpress-0"), w.calls.join(" | "));
    assert.ok(!w.calls.includes("stop wordpress-1"), "the next pod is left alone");
    assert.deepEqual(w.calls.slice(-2), ["stop wordpress-2", "remove wordpress-2"]);
    const callsAfterFailure = w.calls.length;
    w.roll.start(topology, ["wordpress-0", "wordpress-1"], surge);
    assert.ok(!w.roll.active, "not retried at once");
    w.clock.now += 60_000;
    w.roll.start(topology, ["wordpress-0", "wordpress-1"], surge);
    assert.ok(w.roll.active, "retried a minute later");
    await w.roll.settled();
    assert.ok(w.calls.length > callsAfterFailure);
  });
});

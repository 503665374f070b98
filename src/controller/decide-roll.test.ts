import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide, defaultControllerConfig } from "./decide.js";
import { rollPlan, ROLL_RETRY_AFTER_MS } from "./decide-roll.js";
import { emptyMemory, type InstanceView, type Observation } from "./types.js";
import { instanceView, primaryView, replicaOf } from "./view-fixtures.js";

function observe(instances: InstanceView[], desiredInstances: number | null = 3): Observation {
  return { at: 100_000, primary: "mysql-0", instances, switchoverRequest: null, desiredInstances };
}
const old = { outdated: true };
const step = (observation: Observation) => {
  const decision = decide(observation, emptyMemory(), defaultControllerConfig);
  return decision.actions.map((a) => ("instance" in a ? `${a.kind} ${a.instance}` : a.kind));
};

describe("decide: the rolling update of the database tier", () => {
  it("restarts the outdated replica with the highest ordinal first", () => {
    assert.deepEqual(step(observe([primaryView(0, old), instanceView(1, old), instanceView(2, old)])), [
      "restart mysql-2",
    ]);
  });

  it("then the next replica, once the first is back, streaming and caught up", () => {
    assert.deepEqual(step(observe([primaryView(0, old), instanceView(1, old), instanceView(2)])), [
      "restart mysql-1",
    ]);
  });

  it("then a switchover to an updated replica (the primary read-only first), never a restart of the primary", () => {
    const observation = observe([primaryView(0, old), instanceView(1), instanceView(2)]);
    assert.deepEqual(step(observation), ["fence mysql-0"]);
    const decision = decide(observation, emptyMemory(), defaultControllerConfig);
    assert.equal(
      decision.memory.switchover?.id,
      null,
      "the controller's own switchover: no requester to tell",
    );
    assert.match(
      decision.memory.switchover?.requestedBy ?? "",
      /the rolling update \(2 of 3 instances updated\)/,
    );
  });

  it("then the old primary, now an outdated replica", () => {
    const instances = [
      instanceView(0, { ...old, replication: replicaOf(1) }),
      primaryView(1),
      instanceView(2, { replication: replicaOf(1) }),
    ];
    const decision = decide(
      { ...observe(instances), primary: "mysql-1" },
      emptyMemory(),
      defaultControllerConfig,
    );
    assert.deepEqual(
      decision.actions.map((a) => a.kind),
      ["restart"],
    );
  });

  const waits: { name: string; instances: InstanceView[]; desired?: number }[] = [
    {
      name: "a pod deleted a moment ago is not listed yet",
      instances: [primaryView(0, old), instanceView(1, old)],
      desired: 3,
    },
    {
      name: "a restarted replica is still provisioning",
      instances: [primaryView(0, old), instanceView(1, old), instanceView(2, { provisioning: true })],
    },
    {
      name: "a replica still applies",
      instances: [
        primaryView(0, old),
        instanceView(1, old),
        instanceView(2, { replication: replicaOf(0, { secondsBehind: 3, relayApplied: false }) }),
      ],
    },
    {
      name: "a replica does not answer",
      instances: [primaryView(0, old), instanceView(1, old), instanceView(2, { reachable: false })],
    },
  ];
  for (const { name, instances, desired } of waits) {
    it(`waits, restarting nothing, while ${name}`, () => {
      assert.ok(
        !step(observe(instances, desired ?? 3)).some((a) => a.startsWith("restart") || a.startsWith("fence")),
      );
    });
  }

  it("repairs come first: a replica to re-point is re-pointed, nothing restarted that round", () => {
    const actions = step(
      observe([primaryView(0, old), instanceView(1, old), instanceView(2, { replication: null })]),
    );
    assert.deepEqual(actions, ["repoint mysql-2"]);
  });

  it("a lone instance is restarted (nothing to switch over to)", () => {
    assert.deepEqual(step(observe([primaryView(0, { ...old, semiSyncMasterEnabled: false })], 1)), [
      "restart mysql-0",
    ]);
  });

  it("says its plan in words before it starts", () => {
    assert.equal(
      rollPlan(["mysql-0", "mysql-1", "mysql-2"], "mysql-0"),
      "the controller restarts mysql-2, then mysql-1 (replicas, one at a time, each caught up before the next); then it switches over to an updated replica, then restarts mysql-0",
    );
    assert.equal(rollPlan([], "mysql-0"), null);
  });

  it("waits a while after a failed switchover before it tries the next (each cuts writes)", () => {
    const observation = observe([primaryView(0, old), instanceView(1), instanceView(2)]);
    const recently = { ...emptyMemory(), lastSwitchoverFailedAt: observation.at - 10_000 };
    assert.deepEqual(decide(observation, recently, defaultControllerConfig).actions, []);
    const later = { ...emptyMemory(), lastSwitchoverFailedAt: observation.at - ROLL_RETRY_AFTER_MS };
    assert.equal(decide(observation, later, defaultControllerConfig).actions[0]?.kind, "fence");
  });
});

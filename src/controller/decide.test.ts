import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide, defaultControllerConfig, isReplicaRepair, pickCandidate } from "./decide.js";
import {
  emptyMemory,
  type Action,
  type InstanceView,
  type Memory,
  type Observation,
  type ReplicationView,
} from "./types.js";
import { instanceView, primaryView, replicaOf } from "./view-fixtures.js";

const config = defaultControllerConfig;
const instance = instanceView;
const healthyPrimary = primaryView;
const dead = (ordinal: number, overrides: Partial<InstanceView> = {}) =>
  instance(ordinal, { reachable: false, error: "connect ECONNREFUSED", replication: null, ...overrides });

function observe(instances: InstanceView[], primary = "mysql-0", at = 100_000): Observation {
  return { at, primary, instances, switchoverRequest: null, desiredInstances: null };
}

function memoryWith(overrides: Partial<Memory>): Memory {
  return { ...emptyMemory(), ...overrides };
}

/** Runs decide `rounds` times on the same observation, as consecutive probes would. */
function decideRounds(observation: Observation, rounds: number, memory = emptyMemory()) {
  let current = memory;
  let last = decide(observation, current, config);
  for (let i = 0; i < rounds; i++) {
    last = decide(observation, current, config);
    current = last.memory;
  }
  return last;
}

const kinds = (actions: Action[]) => actions.map((a) => a.kind);

describe("decide: a healthy cluster", () => {
  it("does nothing when all is well", () => {
    const decision = decide(observe([healthyPrimary(), instance(1), instance(2)]), emptyMemory(), config);
    assert.deepEqual(decision.actions, []);
    assert.deepEqual(decision.events, []);
  });

  it("makes a read-only primary writable (bootstrap, restart)", () => {
    const decision = decide(
      observe([healthyPrimary(0, { readOnly: true }), instance(1)]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(decision.actions, [{ kind: "setWritable", instance: "mysql-0" }]);
  });

  it("turns semi-sync on once a replica streams, not before", () => {
    const noStream = decide(
      observe([
        healthyPrimary(0, { semiSyncMasterEnabled: false }),
        instance(1, { replication: replicaOf(0, { ioRunning: "Connecting" }) }),
      ]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(noStream.actions, []);
  });

  it("keeps semi-sync on with replicas and off when alone", () => {
    const withReplicas = decide(
      observe([healthyPrimary(0, { semiSyncMasterEnabled: false }), instance(1)]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(withReplicas.actions, [{ kind: "setSemiSync", instance: "mysql-0", enabled: true }]);
    const alone = decide(
      observe([healthyPrimary(0, { semiSyncMasterEnabled: true })]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(alone.actions, [{ kind: "setSemiSync", instance: "mysql-0", enabled: false }]);
    // Scaled to one while the replicas are still leaving (`kubectl scale --replicas=1`): off at once,
    // not after every commit waited out the timeout for replicas that no longer acknowledge.
    const scaledDown = decide(
      {
        ...observe([healthyPrimary(0, { semiSyncMasterEnabled: true }), instance(1), instance(2)]),
        desiredInstances: 1,
      },
      emptyMemory(),
      config,
    );
    assert.deepEqual(scaledDown.actions, [{ kind: "setSemiSync", instance: "mysql-0", enabled: false }]);
    // Listed alone because its replicas' pods are being made again (Kubernetes): still three wanted,
    // so commits keep waiting for a replica's acknowledgement.
    const othersMissing = decide(
      { ...observe([healthyPrimary(0, { semiSyncMasterEnabled: true })]), desiredInstances: 3 },
      emptyMemory(),
      config,
    );
    assert.deepEqual(othersMissing.actions, []);
  });

  it("fences a second writable instance and does not touch provisioning ones", () => {
    const decision = decide(
      observe([
        healthyPrimary(),
        instance(1, { readOnly: false }),
        instance(2, { provisioning: true, readOnly: false, replication: null }),
      ]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(decision.actions, [
      {
        kind: "fence",
        instance: "mysql-1",
        how: "read-only",
        reason: "writable while mysql-0 is the primary",
      },
    ]);
    assert.equal(decision.events[0]?.kind, "fenced");
  });
});

describe("decide: routing on platforms that report it (Kubernetes' role label)", () => {
  it("routes to the recorded primary once it is writable when no instance carries the label", () => {
    const decision = decide(
      observe([healthyPrimary(0, { readOnly: true, routed: false }), instance(1, { routed: false })]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(kinds(decision.actions), ["setWritable", "route"]);
    assert.deepEqual(decision.actions[1], { kind: "route", instance: "mysql-0" });
  });

  it("moves the label off a replica that still carries it", () => {
    const decision = decide(
      observe([healthyPrimary(0, { routed: true }), instance(1, { routed: true })]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(decision.actions, [{ kind: "route", instance: "mysql-0" }]);
  });

  it("leaves routing alone when it is right or not reported", () => {
    for (const routed of [null, true]) {
      const decision = decide(
        observe([healthyPrimary(0, { routed }), instance(1, { routed: routed === null ? null : false })]),
        emptyMemory(),
        config,
      );
      assert.deepEqual(decision.actions, [], `routed ${String(routed)}`);
    }
  });
});

describe("decide: automatic failover off (--no-automatic-failover)", () => {
  const manual = { ...config, automaticFailover: false };

  it("reports a dead primary once and never fences or promotes", () => {
    const lost = { replication: replicaOf(0, { ioRunning: "Connecting" }) };
    const observation = observe([dead(0), instance(1, lost), instance(2, lost)]);
    let memory = emptyMemory();
    const events: string[] = [];
    for (let round = 0; round < 10; round++) {
      const decision = decide(observation, memory, manual);
      assert.deepEqual(decision.actions, [], `round ${round}`);
      events.push(...decision.events.map((e) => e.kind));
      memory = decision.memory;
    }
    assert.deepEqual(events, ["failover-disabled"]);
    assert.equal(memory.failover, null);
  });

  it("still repairs replicas and fences a rogue writer", () => {
    const decision = decide(
      observe([healthyPrimary(), instance(1, { readOnly: false }), instance(2, { replication: null })]),
      emptyMemory(),
      manual,
    );
    assert.deepEqual(kinds(decision.actions), ["fence", "repoint"]);
  });
});

describe("decide: broken replicas", () => {
  it("re-clones a replica whose primary purged what it needs (1236)", () => {
    const decision = decide(
      observe([
        healthyPrimary(),
        instance(1, { replication: replicaOf(0, { ioRunning: "No", lastIoErrno: 1236 }) }),
      ]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(kinds(decision.actions), ["reclone"]);
  });

  it("re-clones a replica whose SQL thread stopped on an error", () => {
    const decision = decide(
      observe([
        healthyPrimary(),
        instance(1, { replication: replicaOf(0, { sqlRunning: false, lastSqlErrno: 1062 }) }),
      ]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(kinds(decision.actions), ["reclone"]);
  });

  it("restarts stopped replication threads that have no error", () => {
    const decision = decide(
      observe([healthyPrimary(), instance(1, { replication: replicaOf(0, { ioRunning: "No" }) })]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(decision.actions, [{ kind: "startReplication", instance: "mysql-1" }]);
  });

  it("re-points a replica that follows another server", () => {
    const decision = decide(
      observe([healthyPrimary(), instance(1, { replication: replicaOf(2) })]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(decision.actions, [
      { kind: "repoint", instance: "mysql-1", to: "mysql-0", usePos: "slave_pos" },
    ]);
  });

  it("leaves a replica that is merely reconnecting alone", () => {
    const decision = decide(
      observe([healthyPrimary(), instance(1, { replication: replicaOf(0, { ioRunning: "Connecting" }) })]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(decision.actions, []);
  });
});

describe("decide: primary dead", () => {
  const deadPrimary = () =>
    observe([
      dead(0),
      instance(1, { replication: replicaOf(0, { ioRunning: "Connecting" }) }),
      instance(2, { replication: replicaOf(0, { ioRunning: "Connecting" }) }),
    ]);

  it("waits while failed probes are below the threshold", () => {
    const decision = decideRounds(deadPrimary(), config.failureThreshold - 1);
    assert.deepEqual(decision.actions, []);
    assert.equal(decision.memory.failover, null);
  });

  it("fences the old primary and stops the replicas' IO threads once confirmed", () => {
    const decision = decideRounds(deadPrimary(), config.failureThreshold);
    assert.deepEqual(decision.actions, [
      { kind: "fence", instance: "mysql-0", how: "kill", reason: "unreachable for 3 probes" },
      { kind: "stopReplicationIo", instances: ["mysql-1", "mysql-2"] },
    ]);
    // Lost when it first failed a probe: here the same round (decideRounds repeats one observation).
    assert.deepEqual(decision.memory.failover, { from: "mysql-0", startedAt: 100_000, lostAt: 100_000 });
    assert.equal(decision.events[0]?.kind, "failover-started");
    const lostEarlier = decide(
      observe([dead(0), instance(1), instance(2)], "mysql-0", 103_000),
      decideRounds(
        observe([dead(0), instance(1), instance(2)], "mysql-0", 101_000),
        config.failureThreshold - 1,
      ).memory,
      config,
    );
    assert.equal(lostEarlier.memory.failover?.lostAt, 101_000, "when it was first seen down");
  });

  it("counts a primary whose pod is gone as down from then", () => {
    const gone = decide(observe([instance(1), instance(2)], "mysql-0", 101_000), emptyMemory(), config);
    assert.equal(gone.events[0]?.kind, "no-primary");
    assert.deepEqual(gone.memory.primaryDown, { instance: "mysql-0", since: 101_000 });
    const later = decide(observe([instance(1), instance(2)], "mysql-0", 102_000), gone.memory, config);
    assert.deepEqual(later.memory.primaryDown, { instance: "mysql-0", since: 101_000 });
  });

  it("never fails over a primary that does not answer while its replicas still hear from it", () => {
    const slow = observe([dead(0, { error: "connect ETIMEDOUT" }), instance(1), instance(2)]);
    const decision = decideRounds(slow, config.failureThreshold + config.confirmationProbes + 3);
    assert.deepEqual(decision.actions, []);
    assert.equal(decision.memory.failover, null);
    const first = decide(slow, memoryWith({ failures: { "mysql-0": 9 } }), config);
    assert.equal(first.events[0]?.kind, "primary-slow");
    // Said once while it lasts, even as the probe's error changes (seen behind a NetworkPolicy: a
    // timeout, then a refusal, round after round).
    const refused = observe([dead(0, { error: "connect ECONNREFUSED" }), instance(1), instance(2)]);
    assert.deepEqual(decide(refused, first.memory, config).events, []);
  });

  it("asks for more probes when replicas stream from it but cannot tell (no heartbeats configured)", () => {
    const noBeat = replicaOf(0, { heartbeatPeriodMs: 0 });
    const unclear = observe([
      dead(0, { error: "connect ETIMEDOUT" }),
      instance(1, { replication: noBeat }),
      instance(2, { replication: noBeat }),
    ]);
    assert.deepEqual(decideRounds(unclear, config.failureThreshold).actions, []);
    const confirmed = decideRounds(unclear, config.failureThreshold + config.confirmationProbes);
    assert.deepEqual(kinds(confirmed.actions), ["fence", "stopReplicationIo"]);
  });

  describe("a hang seen from two sides: our probe and the replicas", () => {
    const healthy = (at: number) => observe([healthyPrimary(0), instance(1), instance(2)], "mysql-0", at);
    const hungAt = (at: number, replicas = [replicaOf(0), replicaOf(0)]) =>
      observe(
        [
          dead(0, { error: "connect ETIMEDOUT" }),
          instance(1, { replication: replicas[0] ?? null }),
          instance(2, { replication: replicas[1] ?? null }),
        ],
        "mysql-0",
        at,
      );
    const watched = () => decide(healthy(100_000), emptyMemory(), config).memory;

    it("fails over at the first failed probe once every replica has heard nothing for 3 heartbeats", () => {
      const decision = decide(hungAt(101_300), watched(), config);
      assert.deepEqual(kinds(decision.actions), ["fence", "stopReplicationIo"]);
      assert.match(decision.events[0]?.message ?? "", /heard nothing from it, not even a heartbeat: hung/);
    });

    it("waits while the silence is shorter than that", () => {
      assert.deepEqual(decide(hungAt(100_700), watched(), config).actions, []);
    });

    it("never fails over a slow primary whose replicas still hear from it", () => {
      const talking = [
        replicaOf(0, { progress: "mysql-bin.000001:100/8" }),
        replicaOf(0, { progress: "x/9" }),
      ];
      let memory = watched();
      for (const at of [101_300, 102_000]) {
        const decision = decide(hungAt(at, talking), memory, config);
        assert.deepEqual(decision.actions, [], `at ${at}`);
        memory = decision.memory;
      }
    });

    it("waits when only some replicas have stopped hearing from it", () => {
      const mixed = [replicaOf(0), replicaOf(0, { progress: "mysql-bin.000001:200/7" })];
      assert.deepEqual(decide(hungAt(101_300, mixed), watched(), config).actions, []);
    });

    it("scales the silence to the heartbeat period the replicas were given", () => {
      const slowBeat = [replicaOf(0, { heartbeatPeriodMs: 1000 }), replicaOf(0, { heartbeatPeriodMs: 1000 })];
      const memory = decide(
        observe(
          [
            healthyPrimary(0),
            instance(1, { replication: slowBeat[0] ?? null }),
            instance(2, { replication: slowBeat[1] ?? null }),
          ],
          "mysql-0",
          100_000,
        ),
        emptyMemory(),
        config,
      ).memory;
      assert.deepEqual(
        decide(hungAt(102_900, slowBeat), memory, config).actions,
        [],
        "2.9 s < 3 periods of 1 s",
      );
      assert.deepEqual(kinds(decide(hungAt(103_100, slowBeat), memory, config).actions), [
        "fence",
        "stopReplicationIo",
      ]);
    });
  });

  it("refuses without a majority and says why once", () => {
    const minority = observe([
      dead(0),
      instance(1, { replication: replicaOf(0, { ioRunning: "Connecting" }) }),
      dead(2),
    ]);
    const first = decideRounds(minority, config.failureThreshold);
    assert.deepEqual(first.actions, []);
    assert.equal(first.events[0]?.kind, "failover-refused");
    assert.match(
      first.events[0]?.message ?? "",
      /only 1 of the other 2 instances answer \(mysql-1\); a promotion needs 2: no majority/,
    );
    const again = decide(minority, first.memory, config);
    assert.deepEqual(again.events, [], "the same refusal is not repeated every round");
  });

  it("fails over at once when the primary's owner reports its process exited", () => {
    const crashed = observe([
      dead(0, { exited: "killed by SIGKILL" }),
      instance(1, { replication: replicaOf(0, { ioRunning: "Connecting" }) }),
      instance(2, { replication: replicaOf(0, { ioRunning: "Connecting" }) }),
    ]);
    const first = decide(crashed, emptyMemory(), config);
    assert.deepEqual(kinds(first.actions), ["fence", "stopReplicationIo"], "on the first round");
    assert.match(
      first.events[0]?.message ?? "",
      /mysql-0's mariadbd killed by SIGKILL \(reported by its owner\)/,
    );
    const withoutSignal = decide(observe([dead(0), instance(1), instance(2)]), emptyMemory(), config);
    assert.deepEqual(withoutSignal.actions, [], "one failed probe alone is not enough");
  });

  it("fails over when the exit is reported while a probe of the primary was answered (the answer predates the crash)", () => {
    const raced = observe([
      healthyPrimary(0, { exited: "killed by SIGKILL" }),
      instance(1, { replication: replicaOf(0) }),
      instance(2, { replication: replicaOf(0) }),
    ]);
    const decision = decide(raced, emptyMemory(), config);
    assert.deepEqual(kinds(decision.actions), ["fence", "stopReplicationIo"]);
    // The gone primary never counts towards the majority, whatever its last answer said.
    const minority = decide(
      observe([
        healthyPrimary(0, { exited: "killed by SIGKILL" }),
        instance(1, { replication: replicaOf(0) }),
        dead(2),
      ]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(minority.actions, []);
    assert.equal(minority.events[0]?.kind, "failover-refused");
  });

  it("still needs a majority when the primary's exit is reported", () => {
    const decision = decide(
      observe([dead(0, { exited: "killed by SIGKILL" }), instance(1), dead(2)]),
      emptyMemory(),
      config,
    );
    assert.deepEqual(decision.actions, []);
    assert.equal(decision.events[0]?.kind, "failover-refused");
  });

  it("does nothing but wait when a replica's exit is reported", () => {
    const decision = decide(
      observe([healthyPrimary(0), dead(1, { exited: "killed by SIGKILL" }), instance(2)]),
      emptyMemory(),
      config,
    );
    assert.ok(!decision.actions.some((a) => a.kind === "fence" || a.kind === "promote"));
  });

  it("never fails over a primary that refuses sessions for lack of slots (alive and busy)", () => {
    const busy = observe([
      healthyPrimary(0, { reachable: false, busy: true, error: "Too many connections" }),
      instance(1),
      instance(2),
    ]);
    const decision = decideRounds(busy, config.failureThreshold + config.confirmationProbes + 5);
    assert.deepEqual(decision.actions, []);
    assert.equal(decision.memory.failures["mysql-0"], 0, "a busy refusal is not a failed probe");
    assert.equal(decision.memory.failover, null);
    const first = decide(busy, emptyMemory(), config);
    assert.equal(first.events[0]?.kind, "primary-busy");
    assert.match(first.events[0]?.message ?? "", /alive and busy, not failing over/);
  });

  it("counts busy instances as alive for the majority", () => {
    const decision = decideRounds(
      observe([
        dead(0),
        instance(1, { replication: replicaOf(0, { ioRunning: "Connecting" }) }),
        instance(2, { reachable: false, busy: true, replication: null }),
      ]),
      config.failureThreshold,
    );
    assert.ok(
      decision.actions.some((a) => a.kind === "fence"),
      "2 of 3 alive: a majority, the dead primary is failed over",
    );
  });

  it("refuses when no healthy replica can take over", () => {
    const noReplica = observe([
      dead(0),
      instance(1, { provisioning: true }),
      instance(2, { provisioning: true }),
    ]);
    const decision = decideRounds(noReplica, config.failureThreshold);
    assert.deepEqual(decision.actions, []);
    assert.match(decision.events[0]?.message ?? "", /no healthy replica/);
  });

  it("waits out the cooldown after a recovery", () => {
    const decision = decideRounds(
      deadPrimary(),
      config.failureThreshold,
      memoryWith({ lastRecoveryAt: 100_000 - 1000 }),
    );
    assert.deepEqual(decision.actions, []);
    assert.equal(decision.events[0]?.kind, "cooldown");
  });
});

describe("decide: completing a failover", () => {
  const failingOver = memoryWith({ failover: { from: "mysql-0", startedAt: 99_000 } });
  const stopped = (overrides: Partial<ReplicationView> = {}) =>
    replicaOf(0, { ioRunning: "No", ...overrides });

  it("fences again first when the fence may not have been done (a controller died after writing the failover down)", () => {
    const decision = decide(
      observe([instance(0, { readOnly: true }), instance(1, { replication: stopped() }), instance(2)]),
      memoryWith({ failover: { from: "mysql-0", startedAt: 99_000, fencePending: true } }),
      config,
    );
    assert.deepEqual(decision.actions, [
      {
        kind: "fence",
        instance: "mysql-0",
        how: "kill",
        reason: "resuming a failover whose fence may not have been done",
      },
      { kind: "stopReplicationIo", instances: ["mysql-1", "mysql-2"] },
    ]);
    assert.deepEqual(decision.memory.failover, { from: "mysql-0", startedAt: 99_000 });
  });

  it("stops IO threads that are still running first", () => {
    const decision = decide(
      observe([dead(0), instance(1, { replication: stopped() }), instance(2)]),
      failingOver,
      config,
    );
    assert.deepEqual(decision.actions, [{ kind: "stopReplicationIo", instances: ["mysql-2"] }]);
  });

  it("promotes the most advanced replica, records, routes, releases the old primary, then re-points the rest", () => {
    const decision = decide(
      observe([
        dead(0),
        instance(1, { gtidCurrent: "0-100-40", replication: stopped({ gtidIoPos: "0-100-40" }) }),
        instance(2, { gtidCurrent: "0-100-42", replication: stopped({ gtidIoPos: "0-100-42" }) }),
      ]),
      failingOver,
      config,
    );
    assert.deepEqual(decision.actions, [
      { kind: "promote", instance: "mysql-2", semiSync: true },
      { kind: "recordPrimary", instance: "mysql-2", reason: "failover from mysql-0" },
      { kind: "route", instance: "mysql-2" },
      { kind: "release", instance: "mysql-0" },
      { kind: "repoint", instance: "mysql-1", to: "mysql-2", usePos: "slave_pos" },
    ]);
    assert.equal(decision.memory.failover, null);
    assert.equal(decision.memory.lastRecoveryAt, 100_000);
    assert.equal(decision.events[0]?.kind, "promoted");
  });

  it("counts the wanted instances that are not listed (pods made again one at a time) against the majority", () => {
    // Every pod deleted at once; its StatefulSet made mysql-1 again first: one listed, three wanted.
    const firstBack = { ...observe([instance(1, { replication: stopped() })]), desiredInstances: 3 };
    const waiting = decide(firstBack, failingOver, config);
    assert.deepEqual(waiting.actions, [], "one of three is no majority");
    assert.equal(waiting.events[0]?.kind, "failover-waiting");
    const both = {
      ...observe([dead(0), instance(1, { replication: stopped() }), instance(2, { replication: stopped() })]),
      desiredInstances: 3,
    };
    assert.equal(decide(both, failingOver, config).actions[0]?.kind, "promote");
  });

  it("never counts the primary being replaced towards the majority, however it answers", () => {
    // The old primary's pod made again answers (read-only), the other replica is not back yet: the
    // write only mysql-2 acknowledged may be missing from mysql-1.
    const oldBack = observe([
      instance(0, { replication: null, gtidCurrent: "0-100-60" }),
      instance(1, { replication: stopped({ gtidIoPos: "0-100-50" }), gtidCurrent: "0-100-50" }),
      dead(2),
    ]);
    const decision = decide(oldBack, failingOver, config);
    assert.deepEqual(decision.actions, []);
    assert.equal(decision.events[0]?.kind, "failover-waiting");
  });

  it("waits for an instance that answers but is not ready yet when it received more than the candidate", () => {
    const notReady = observe([
      dead(0),
      instance(1, { gtidCurrent: "0-100-50", replication: stopped({ gtidIoPos: "0-100-50" }) }),
      instance(2, {
        provisioning: true,
        gtidCurrent: "0-100-53",
        replication: stopped({ gtidIoPos: "0-100-53" }),
      }),
    ]);
    const waiting = decide(notReady, failingOver, config);
    assert.deepEqual(waiting.actions, []);
    assert.match(waiting.events[0]?.message ?? "", /waiting for mysql-2, which received more than mysql-1/);
    const ready = observe([
      dead(0),
      instance(1, { gtidCurrent: "0-100-50", replication: stopped({ gtidIoPos: "0-100-50" }) }),
      instance(2, { gtidCurrent: "0-100-53", replication: stopped({ gtidIoPos: "0-100-53" }) }),
    ]);
    assert.deepEqual(decide(ready, waiting.memory, config).actions[0], {
      kind: "promote",
      instance: "mysql-2",
      semiSync: true,
    });
    // Not ready but behind (or level): nothing to wait for.
    const behind = observe([
      dead(0),
      instance(1, { gtidCurrent: "0-100-50", replication: stopped({ gtidIoPos: "0-100-50" }) }),
      instance(2, {
        provisioning: true,
        gtidCurrent: "0-100-48",
        replication: stopped({ gtidIoPos: "0-100-48" }),
      }),
    ]);
    assert.equal(decide(behind, failingOver, config).actions[0]?.kind, "promote");
  });

  describe("replicas started again after the primary was lost (every database pod deleted at once)", () => {
    // Lost at 99_000; both replicas' servers started at 99_500, after it.
    const lost = memoryWith({ failover: { from: "mysql-0", startedAt: 99_800, lostAt: 99_000 } });
    const restartedReplica = (ordinal: number, gtid: string) =>
      instance(ordinal, {
        gtidCurrent: gtid,
        replication: stopped({ gtidIoPos: gtid }),
        serverStartedAt: 99_500,
      });

    it("releases the old primary and waits for it to answer instead of promoting", () => {
      const decision = decide(
        observe([dead(0), restartedReplica(1, "0-100-50"), restartedReplica(2, "0-100-49")]),
        lost,
        config,
      );
      assert.deepEqual(decision.actions, [{ kind: "release", instance: "mysql-0" }]);
      assert.equal(decision.memory.failover?.awaitingFrom, true);
      assert.match(
        decision.events[0]?.message ?? "",
        /mysql-1, mysql-2 started again after mysql-0 was lost .*waiting for mysql-0/,
      );
      const again = decide(
        observe([dead(0), restartedReplica(1, "0-100-50"), restartedReplica(2, "0-100-49")]),
        decision.memory,
        config,
      );
      assert.deepEqual(again.actions, [], "released once, then only waited for");
      assert.deepEqual(again.events, []);
    });

    it("keeps the old primary when it comes back with writes no replica received", () => {
      const awaiting = memoryWith({
        failover: { from: "mysql-0", startedAt: 99_800, lostAt: 99_000, awaitingFrom: true },
      });
      const back = observe([
        instance(0, { replication: null, gtidCurrent: "0-100-52", gtidBinlog: "0-100-52" }),
        restartedReplica(1, "0-100-50"),
        restartedReplica(2, "0-100-49"),
      ]);
      const decision = decide(back, awaiting, config);
      assert.deepEqual(decision.actions, []);
      assert.equal(decision.memory.failover, null);
      assert.equal(decision.events[0]?.kind, "failover-abandoned");
      // The next round sees the recorded primary answering, read-only: it is made writable again.
      const next = decide(back, decision.memory, config);
      assert.deepEqual(next.actions[0], { kind: "setWritable", instance: "mysql-0" });
    });

    it("promotes as usual when the old primary comes back with nothing more than the best replica", () => {
      const awaiting = memoryWith({
        failover: { from: "mysql-0", startedAt: 99_800, lostAt: 99_000, awaitingFrom: true },
      });
      const back = observe([
        instance(0, { replication: null, gtidCurrent: "0-100-50", gtidBinlog: "0-100-50" }),
        restartedReplica(1, "0-100-50"),
        restartedReplica(2, "0-100-49"),
      ]);
      assert.deepEqual(decide(back, awaiting, config).actions[0], {
        kind: "promote",
        instance: "mysql-1",
        semiSync: true,
      });
    });

    it("never makes the old primary writable again beside a replica this failover already promoted", () => {
      const awaiting = memoryWith({
        failover: { from: "mysql-0", startedAt: 99_800, lostAt: 99_000, awaitingFrom: true },
      });
      const decision = decide(
        observe([
          instance(0, { replication: null, gtidCurrent: "0-100-52", gtidBinlog: "0-100-52" }),
          instance(1, {
            readOnly: false,
            replication: null,
            gtidCurrent: "0-100-50",
            serverStartedAt: 99_500,
          }),
          restartedReplica(2, "0-100-49"),
        ]),
        awaiting,
        config,
      );
      assert.notEqual(decision.events[0]?.kind, "failover-abandoned");
      assert.equal(decision.actions[0]?.kind, "promote");
    });

    it("does not wait for replicas that ran through the outage", () => {
      const decision = decide(
        observe([
          dead(0),
          instance(1, {
            gtidCurrent: "0-100-50",
            replication: stopped({ gtidIoPos: "0-100-50" }),
            serverStartedAt: 50_000,
          }),
          instance(2, {
            gtidCurrent: "0-100-49",
            replication: stopped({ gtidIoPos: "0-100-49" }),
            serverStartedAt: 50_000,
          }),
        ]),
        lost,
        config,
      );
      assert.equal(decision.actions[0]?.kind, "promote");
    });
  });

  it("never picks a lagging replica over one that received more, and waits for it to apply its relay log", () => {
    const observation = observe([
      dead(0),
      instance(1, { gtidCurrent: "0-100-50", replication: stopped({ gtidIoPos: "0-100-50" }) }),
      instance(2, {
        gtidCurrent: "0-100-45",
        replication: stopped({ gtidIoPos: "0-100-55", relayApplied: false }),
      }),
    ]);
    const waiting = decide(observation, failingOver, config);
    assert.deepEqual(waiting.actions, []);
    assert.match(waiting.events[0]?.message ?? "", /waiting for mysql-2 to apply its relay log/);
    const applied = observe([
      dead(0),
      instance(1, { gtidCurrent: "0-100-50", replication: stopped({ gtidIoPos: "0-100-50" }) }),
      instance(2, { gtidCurrent: "0-100-55", replication: stopped({ gtidIoPos: "0-100-55" }) }),
    ]);
    assert.deepEqual(decide(applied, waiting.memory, config).actions[0], {
      kind: "promote",
      instance: "mysql-2",
      semiSync: true,
    });
  });

  it("promotes the only replica once it has applied what it received", () => {
    const only = observe([dead(0), instance(1, { replication: stopped({ relayApplied: true }) }), dead(2)]);
    // Two of three reachable? No: only mysql-1 is. Without a majority it waits.
    assert.deepEqual(decide(only, failingOver, config).actions, []);
    const twoOfThree = observe([
      dead(0),
      instance(1, { replication: stopped() }),
      instance(2, { provisioning: true }),
    ]);
    assert.equal(decide(twoOfThree, failingOver, config).actions[0]?.kind, "promote");
  });

  it("resumes after a controller restart mid-failover: the already promoted replica is kept", () => {
    const observation = observe([
      dead(0),
      instance(1, { readOnly: false, replication: null, gtidCurrent: "0-100-42" }),
      instance(2, { gtidCurrent: "0-100-42", replication: stopped({ gtidIoPos: "0-100-42" }) }),
    ]);
    const decision = decide(observation, failingOver, config);
    assert.deepEqual(kinds(decision.actions), ["promote", "recordPrimary", "route", "release", "repoint"]);
    assert.equal(decision.actions[0]?.kind === "promote" && decision.actions[0].instance, "mysql-1");
  });

  it("handles empty GTID state right after a previous failover", () => {
    const observation = observe([
      dead(0),
      instance(1, { gtidCurrent: "", gtidBinlog: "", replication: stopped({ gtidIoPos: "" }) }),
      instance(2, { gtidCurrent: "", gtidBinlog: "", replication: stopped({ gtidIoPos: "" }) }),
    ]);
    const decision = decide(observation, failingOver, config);
    assert.deepEqual(decision.actions[0], { kind: "promote", instance: "mysql-1", semiSync: true });
  });
});

describe("decide: the old primary comes back", () => {
  it("rejoins it as a replica when it has nothing the new primary lacks", () => {
    const decision = decide(
      observe(
        [
          instance(0, { replication: null, gtidBinlog: "0-100-40" }),
          healthyPrimary(1, { gtidCurrent: "0-101-45" }),
          instance(2, { replication: replicaOf(1) }),
        ],
        "mysql-1",
      ),
      emptyMemory(),
      config,
    );
    assert.deepEqual(decision.actions, [
      { kind: "repoint", instance: "mysql-0", to: "mysql-1", usePos: "current_pos" },
    ]);
    assert.equal(decision.events[0]?.kind, "rejoined");
  });

  it("quarantines and re-clones it when it has errant transactions", () => {
    const decision = decide(
      observe(
        [
          instance(0, { replication: null, gtidBinlog: "0-100-46" }),
          healthyPrimary(1, { gtidCurrent: "0-101-45" }),
          instance(2, { replication: replicaOf(1) }),
        ],
        "mysql-1",
      ),
      emptyMemory(),
      config,
    );
    assert.deepEqual(kinds(decision.actions), ["reclone"]);
    assert.equal(decision.events[0]?.kind, "quarantined");
  });

  it("fences it first if it came back writable", () => {
    const decision = decide(
      observe(
        [
          instance(0, { readOnly: false, replication: null, gtidBinlog: "0-100-40" }),
          healthyPrimary(1, { gtidCurrent: "0-101-45" }),
        ],
        "mysql-1",
      ),
      emptyMemory(),
      config,
    );
    assert.deepEqual(kinds(decision.actions), ["fence", "repoint"]);
  });
});

describe("decide: the primary comes back without a failover", () => {
  const minority = (at: number) =>
    observe([dead(0, { exited: "killed by SIGKILL" }), instance(1), dead(2)], "mysql-0", at);
  const recovered = (at: number) => observe([healthyPrimary(0), instance(1), instance(2)], "mysql-0", at);

  it("says when a primary refused a failover (no majority) takes writes again, with the outage", () => {
    const refused = decide(minority(100_000), emptyMemory(), config);
    assert.equal(refused.events[0]?.kind, "failover-refused");
    const still = decide(minority(101_000), refused.memory, config);
    assert.deepEqual(still.events, []);
    const back = decide(recovered(102_500), still.memory, config);
    assert.deepEqual(
      back.events.map((e) => [e.kind, e.instance]),
      [["primary-back", "mysql-0"]],
    );
    assert.match(back.events[0]?.message ?? "", /2\.50 s after it stopped answering/);
    assert.equal(back.memory.primaryDown, null);
    assert.deepEqual(decide(recovered(103_000), back.memory, config).events, [], "said once");
  });

  it("says it after a failover refused because automatic failover is off", () => {
    const off = { ...config, automaticFailover: false };
    const refused = decide(minority(100_000), emptyMemory(), off);
    assert.equal(refused.events[0]?.kind, "failover-disabled");
    const back = decide(recovered(100_800), refused.memory, off);
    assert.equal(back.events[0]?.kind, "primary-back");
    assert.match(back.events[0]?.message ?? "", /0\.80 s/);
  });

  it("says nothing after a probe or two missed in silence", () => {
    const blip = decide(observe([dead(0), instance(1), instance(2)]), emptyMemory(), config);
    assert.deepEqual(blip.events, []);
    assert.equal(blip.memory.primaryDown?.since, 100_000);
    assert.deepEqual(decide(recovered(100_500), blip.memory, config).events, []);
  });

  it("leaves the outage to the promotion's event when it is failed over", () => {
    const crashed = observe([
      dead(0, { exited: "killed by SIGKILL" }),
      instance(1, { replication: replicaOf(0, { ioRunning: "Connecting" }) }),
      instance(2, { replication: replicaOf(0, { ioRunning: "Connecting" }) }),
    ]);
    const started = decide(crashed, emptyMemory(), config);
    assert.equal(started.events[0]?.kind, "failover-started");
    assert.equal(started.memory.primaryDown, null);
  });
});

describe("isReplicaRepair", () => {
  it("lets only the repairs of one replica fail without holding the round", () => {
    assert.equal(
      isReplicaRepair({ kind: "repoint", instance: "mysql-1", to: "mysql-2", usePos: "slave_pos" }),
      true,
    );
    assert.equal(isReplicaRepair({ kind: "startReplication", instance: "mysql-1" }), true);
    const steps: Action[] = [
      { kind: "promote", instance: "mysql-1", semiSync: true },
      { kind: "route", instance: "mysql-1" },
      { kind: "fence", instance: "mysql-0", how: "kill", reason: "x" },
      { kind: "stopReplicationIo", instances: ["mysql-1"] },
    ];
    for (const step of steps) assert.equal(isReplicaRepair(step), false, step.kind);
  });
});

describe("pickCandidate", () => {
  // Each row: the replicas seen during a failover, and who must be promoted.
  const behind = (ordinal: number, applied: string, secondsBehind: number | null = 0) =>
    instance(ordinal, {
      gtidCurrent: applied,
      replication: replicaOf(0, {
        gtidIoPos: "0-100-10",
        relayApplied: applied === "0-100-10",
        secondsBehind,
      }),
    });
  const cases: { name: string; replicas: InstanceView[]; promoted: string | null }[] = [
    { name: "no replica: nobody", replicas: [], promoted: null },
    {
      name: "the most received wins, whatever the ordinal",
      replicas: [instance(1), instance(2, { replication: replicaOf(0, { gtidIoPos: "0-100-11" }) })],
      promoted: "mysql-2",
    },
    {
      name: "received ties: the most applied wins over a lower ordinal",
      replicas: [behind(1, "0-100-4"), behind(2, "0-100-10")],
      promoted: "mysql-2",
    },
    {
      name: "received ties: the most applied wins over less lag",
      replicas: [behind(1, "0-100-4", 0), behind(2, "0-100-9", 30)],
      promoted: "mysql-2",
    },
    {
      name: "received and applied tie: one already promoted by an interrupted failover",
      replicas: [instance(1), instance(2, { readOnly: false })],
      promoted: "mysql-2",
    },
    {
      name: "received and applied tie: the least lag in time",
      replicas: [behind(1, "0-100-10", 3), behind(2, "0-100-10", 0)],
      promoted: "mysql-2",
    },
    {
      name: "received and applied tie: a known lag beats an unknown one",
      replicas: [behind(1, "0-100-10", null), behind(2, "0-100-10", 5)],
      promoted: "mysql-2",
    },
    {
      name: "everything ties: the lowest ordinal",
      replicas: [instance(2), instance(1)],
      promoted: "mysql-1",
    },
  ];
  for (const { name, replicas, promoted } of cases) {
    it(name, () => assert.equal(pickCandidate(replicas)?.name ?? null, promoted));
  }

  it("a failover waits for no relay log when another replica received as much and applied it all", () => {
    const decision = decide(
      observe(
        [dead(0), behind(1, "0-100-4"), behind(2, "0-100-10")].map((i) =>
          i.replication ? { ...i, replication: { ...i.replication, ioRunning: "No" } } : i,
        ),
      ),
      { ...emptyMemory(), failover: { from: "mysql-0", startedAt: 99_000 } },
      defaultControllerConfig,
    );
    const promote = decision.actions.find((a) => a.kind === "promote");
    assert.deepEqual(promote, { kind: "promote", instance: "mysql-2", semiSync: true });
  });
});

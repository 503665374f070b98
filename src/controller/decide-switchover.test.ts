import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newSwitchoverRequest, type SwitchoverRequest } from "../state/switchover-request.js";
import { decide, defaultControllerConfig } from "./decide.js";
import {
  emptyMemory,
  type ActiveSwitchover,
  type InstanceView,
  type Memory,
  type Observation,
} from "./types.js";
import { instanceView, primaryView } from "./view-fixtures.js";

const AT = 100_000;

function request(to: string | null, overrides: Partial<SwitchoverRequest> = {}): SwitchoverRequest {
  return {
    ...newSwitchoverRequest({
      id: "00aa11bb22cc33dd",
      to,
      deadlineMs: 5000,
      requestedBy: "ops@laptop",
      now: new Date(AT - 100),
    }),
    ...overrides,
  };
}

function observe(
  instances: InstanceView[],
  switchoverRequest: SwitchoverRequest | null,
  primary = "mysql-0",
): Observation {
  return { at: AT, primary, instances, switchoverRequest, desiredInstances: null };
}

const underWay: ActiveSwitchover = {
  id: "00aa11bb22cc33dd",
  from: "mysql-0",
  to: "mysql-1",
  requestedBy: "ops@laptop",
  startedAt: AT - 200,
  deadlineAt: AT + 4800,
};
const during = (overrides: Partial<Memory> = {}): Memory => ({
  ...emptyMemory(),
  switchover: underWay,
  ...overrides,
});
const fenced = (overrides: Partial<InstanceView> = {}) =>
  primaryView(0, { readOnly: true, semiSyncMasterEnabled: false, gtidBinlog: "0-100-12", ...overrides });

/** The steps of a switchover's completion: writes flow again once routed, the others follow after. */
const COMPLETION = ["promote", "recordPrimary", "route", "report done", "repoint", "repoint"];

const kinds = (observation: Observation, memory: Memory) =>
  decide(observation, memory, defaultControllerConfig).actions.map((a) =>
    a.kind === "reportSwitchover" ? `report ${a.outcome}` : a.kind,
  );

describe("decide: the planned switchover", () => {
  it("a request with a healthy primary: told first, then the primary made read-only, the switchover remembered", () => {
    const decision = decide(
      observe([primaryView(0), instanceView(1), instanceView(2)], request("mysql-2")),
      emptyMemory(),
      defaultControllerConfig,
    );
    assert.deepEqual(
      decision.actions.map((a) => a.kind),
      ["reportSwitchover", "fence"],
    );
    assert.deepEqual(decision.actions[1], {
      kind: "fence",
      instance: "mysql-0",
      how: "read-only",
      reason: "switchover to mysql-2",
    });
    assert.equal(decision.memory.switchover?.to, "mysql-2");
    assert.equal(decision.memory.switchover?.deadlineAt, AT + 5000);
  });

  it("without a target, the most advanced streaming replica is chosen", () => {
    const decision = decide(
      observe([primaryView(0), instanceView(1, { gtidCurrent: "0-100-8" }), instanceView(2)], request(null)),
      emptyMemory(),
      defaultControllerConfig,
    );
    assert.equal(decision.memory.switchover?.to, "mysql-2");
  });

  const refusals: {
    name: string;
    instances: InstanceView[];
    req: SwitchoverRequest;
    memory?: Memory;
    why: RegExp;
  }[] = [
    {
      name: "a target that is not an instance",
      instances: [primaryView(0), instanceView(1)],
      req: request("mysql-7"),
      why: /mysql-7 is not a replica streaming from mysql-0 \(streaming: mysql-1\)/,
    },
    {
      name: "the primary itself",
      instances: [primaryView(0), instanceView(1)],
      req: request("mysql-0"),
      why: /mysql-0 is already the primary/,
    },
    {
      name: "a target whose replication is stopped",
      instances: [
        primaryView(0),
        instanceView(1, { replication: { ...instanceView(1).replication!, ioRunning: "No" } }),
      ],
      req: request("mysql-1"),
      why: /mysql-1 is not a replica streaming/,
    },
    {
      name: "a primary that does not answer",
      instances: [instanceView(0, { reachable: false, replication: null }), instanceView(1)],
      req: request("mysql-1"),
      why: /not answering: nothing to switch over from/,
    },
    {
      name: "a busy primary",
      instances: [instanceView(0, { reachable: false, busy: true, replication: null }), instanceView(1)],
      req: request("mysql-1"),
      why: /refuses new sessions/,
    },
    {
      name: "an expired request",
      instances: [primaryView(0), instanceView(1)],
      req: request("mysql-1", { expiresAt: new Date(AT - 1).toISOString() }),
      why: /expired/,
    },
    {
      name: "a failover in progress",
      instances: [instanceView(0, { reachable: false, replication: null }), instanceView(1), instanceView(2)],
      req: request("mysql-1"),
      memory: { ...emptyMemory(), failover: { from: "mysql-0", startedAt: AT - 500 } },
      why: /a failover is in progress/,
    },
  ];
  for (const { name, instances, req, memory, why } of refusals) {
    it(`refused, with the reason, never acted on again: ${name}`, () => {
      const decision = decide(observe(instances, req), memory ?? emptyMemory(), defaultControllerConfig);
      const report = decision.actions.find((a) => a.kind === "reportSwitchover");
      assert.equal(report?.kind === "reportSwitchover" && report.outcome, "failed");
      assert.match(report?.kind === "reportSwitchover" ? report.message : "", why);
      assert.ok(!decision.actions.some((a) => a.kind === "fence" && a.how === "read-only"));
      assert.equal(decision.memory.lastSwitchoverId, req.id);
      const again = decide(observe(instances, req), decision.memory, defaultControllerConfig);
      assert.ok(!again.actions.some((a) => a.kind === "reportSwitchover"), "not refused twice");
    });
  }

  it("waits while the target has not applied everything the read-only primary wrote", () => {
    assert.deepEqual(
      kinds(
        observe([fenced(), instanceView(1, { gtidCurrent: "0-100-11" }), instanceView(2)], null),
        during(),
      ),
      [],
    );
  });

  it("completes once the target has it all: promote, record, route, tell, then the others follow", () => {
    const observation = observe(
      [fenced(), instanceView(1, { gtidCurrent: "0-100-12" }), instanceView(2)],
      null,
    );
    const decision = decide(observation, during(), defaultControllerConfig);
    assert.deepEqual(kinds(observation, during()), COMPLETION);
    assert.deepEqual(
      decision.actions.filter((a) => a.kind === "repoint"),
      [
        { kind: "repoint", instance: "mysql-0", to: "mysql-1", usePos: "current_pos" },
        { kind: "repoint", instance: "mysql-2", to: "mysql-1", usePos: "slave_pos" },
      ],
    );
    assert.equal(decision.memory.switchover, null);
    assert.equal(decision.memory.lastSwitchoverId, underWay.id);
    assert.equal(decision.memory.lastRecoveryAt, AT);
  });

  it("resumes after the record: the target is the recorded primary, the steps after it are done", () => {
    const observation = observe([fenced(), primaryView(1), instanceView(2)], null, "mysql-1");
    assert.deepEqual(kinds(observation, during()), COMPLETION);
  });

  it("rolls back past the deadline: the old primary writable again, the requester told", () => {
    const observation = {
      ...observe([fenced(), instanceView(1, { gtidCurrent: "0-100-11" })], null),
      at: AT + 5000,
    };
    const decision = decide(observation, during(), defaultControllerConfig);
    // The target made read-only first (a dead controller may have promoted it), then the old primary
    // semi-synchronous and writable again.
    assert.deepEqual(
      decision.actions.map((a) => ("instance" in a ? `${a.kind} ${a.instance}` : a.kind)),
      ["fence mysql-1", "setSemiSync mysql-0", "setWritable mysql-0", "reportSwitchover"],
    );
    assert.equal(decision.memory.lastSwitchoverFailedAt, AT + 5000);
    assert.equal(decision.memory.switchover, null);
    assert.ok(decision.events.some((e) => e.kind === "switchover-failed"));
  });

  it("an old primary made writable again by someone else is made read-only again", () => {
    const observation = observe(
      [fenced({ readOnly: false }), instanceView(1, { gtidCurrent: "0-100-11" })],
      null,
    );
    assert.deepEqual(kinds(observation, during()), ["fence"]);
  });

  it("an old primary that dies mid-way ends the switchover; the failover rules decide from the next round", () => {
    const observation = observe(
      [instanceView(0, { reachable: false, replication: null }), instanceView(1)],
      null,
    );
    const decision = decide(observation, during(), defaultControllerConfig);
    assert.deepEqual(
      decision.actions.map((a) => a.kind),
      ["reportSwitchover"],
    );
    assert.equal(decision.memory.switchover, null);
  });

  it("a second request waits while one is under way (it is neither started nor refused)", () => {
    const second = request("mysql-2", { id: "99aa11bb22cc33dd" });
    const observation = observe(
      [fenced(), instanceView(1, { gtidCurrent: "0-100-11" }), instanceView(2)],
      second,
    );
    assert.deepEqual(kinds(observation, during()), []);
  });

  it("a rollback with a target that does not answer stops it before the old primary takes writes, then lets it go", () => {
    const observation = {
      ...observe([fenced(), instanceView(1, { reachable: false, replication: null }), instanceView(2)], null),
      at: AT + 5000,
    };
    const decision = decide(observation, during(), defaultControllerConfig);
    assert.deepEqual(
      decision.actions.map((a) => ("instance" in a ? `${a.kind} ${a.instance}` : a.kind)),
      ["fence mysql-1", "setSemiSync mysql-0", "setWritable mysql-0", "release mysql-1", "reportSwitchover"],
    );
    assert.equal(decision.actions[0]?.kind === "fence" && decision.actions[0].how, "kill");
  });

  it("a target already writable (promoted by a controller that died) is finished, never rolled back past the deadline", () => {
    const observation = {
      ...observe([fenced(), primaryView(1, { semiSyncMasterEnabled: false }), instanceView(2)], null),
      at: AT + 9000,
    };
    assert.deepEqual(kinds(observation, during()), COMPLETION);
  });

  it("a target that dies once recorded as the primary ends the switchover: the failover rules decide next", () => {
    const observation = observe(
      [fenced({ readOnly: true }), instanceView(1, { reachable: false, replication: null }), instanceView(2)],
      null,
      "mysql-1",
    );
    const decision = decide(observation, during(), defaultControllerConfig);
    assert.deepEqual(
      decision.actions.map((a) => a.kind),
      ["reportSwitchover"],
    );
    assert.equal(decision.memory.switchover, null);
    const next = decide(observation, decision.memory, defaultControllerConfig);
    assert.ok(!next.actions.some((a) => a.kind === "promote" && a.instance === "mysql-1"));
  });
});

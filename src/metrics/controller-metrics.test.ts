import assert from "node:assert/strict";
import { test } from "node:test";
import { emptyMemory, type Observation } from "../controller/types.js";
import { instanceView, primaryView } from "../controller/view-fixtures.js";
import { ControllerMetrics } from "./controller-metrics.js";

const observation: Observation = {
  at: 10_000,
  primary: "mysql-0",
  switchoverRequest: null,
  desiredInstances: null,
  instances: [
    primaryView(0, { gtidBinlog: "0-1-25" }),
    instanceView(1, { gtidCurrent: "0-1-20" }),
    instanceView(2, { reachable: false, replication: null }),
  ],
};

async function sampleLines(metrics: ControllerMetrics): Promise<string[]> {
  return (await metrics.exposition()).body.split("\n").filter((line) => line && !line.startsWith("#"));
}

test("an observation becomes per-pod gauges; an unreachable pod keeps only its reachability", async () => {
  const metrics = new ControllerMetrics();
  const memory = { ...emptyMemory(), progress: { "mysql-1": { marker: "x", since: 7_500 } } };
  metrics.observed(observation, memory, true);
  const lines = await sampleLines(metrics);
  for (const expected of [
    "hapress_controller_leader 1",
    'hapress_primary{pod="mysql-0"} 1',
    'hapress_primary{pod="mysql-1"} 0',
    'hapress_instance_reachable{pod="mysql-2"} 0',
    'hapress_instance_read_only{pod="mysql-0"} 0',
    'hapress_instance_semi_sync_master_enabled{pod="mysql-0"} 1',
    "hapress_replicas_streaming 1",
    'hapress_replication_lag_transactions{pod="mysql-1"} 5',
    'hapress_replication_lag_seconds{pod="mysql-1"} 0',
    'hapress_replication_last_heard_seconds{pod="mysql-1"} 2.5',
  ])
    assert.ok(lines.includes(expected), `${expected} in:\n${lines.join("\n")}`);
  assert.ok(!lines.some((line) => line.includes('read_only{pod="mysql-2"}')), "nothing guessed for mysql-2");
});

test("events count failovers and switchovers by outcome; the last failover's duration is kept", async () => {
  const metrics = new ControllerMetrics();
  assert.ok((await sampleLines(metrics)).includes('hapress_failovers_total{outcome="promoted"} 0'));
  metrics.recorded({ kind: "promoted", instance: "mysql-1", message: "" }, 12_000, 11_750);
  metrics.recorded({ kind: "failover-refused", instance: "mysql-0", message: "" }, 13_000, null);
  // Automatic failover off: a refusal too.
  metrics.recorded({ kind: "failover-disabled", instance: "mysql-0", message: "" }, 13_500, null);
  metrics.recorded({ kind: "switchover-done", instance: "mysql-0", message: "" }, 14_000, null);
  metrics.recorded({ kind: "rejoined", instance: "mysql-0", message: "" }, 15_000, null);
  const lines = await sampleLines(metrics);
  for (const expected of [
    'hapress_failovers_total{outcome="promoted"} 1',
    'hapress_failovers_total{outcome="refused"} 2',
    'hapress_switchovers_total{outcome="done"} 1',
    'hapress_switchovers_total{outcome="failed"} 0',
    "hapress_last_failover_timestamp_seconds 12",
    "hapress_last_failover_duration_seconds 0.25",
  ])
    assert.ok(lines.includes(expected), `${expected} in:\n${lines.join("\n")}`);
});

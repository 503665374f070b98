import assert from "node:assert/strict";
import type { ScenarioRun } from "../../src/chaos/runner.js";
import { SCENARIOS } from "../../src/chaos/scenarios.js";

/**
 * The guarantees every chaos run must show, for the local and the Kubernetes chaos tests alike: nothing
 * acknowledged lost, never two writers, a failover exactly where one is due, traffic the whole time,
 * whole again. A failure names the scenario and what the run saw.
 */
export function assertRunHeld(run: ScenarioRun): void {
  const seen = JSON.stringify({
    writes: run.writes,
    reads: run.reads,
    marks: run.marks.map((m) => `${((m.at - run.timeline.start) / 1000).toFixed(2)} s ${m.label}`),
    events: run.events.map((e) => `${e.time} ${e.kind}: ${e.message}`),
  });
  assert.equal(run.lost, 0, `${run.scenario}: acknowledged writes lost: ${seen}`);
  assert.equal(run.postsLost, 0, `${run.scenario}: acknowledged posts lost: ${seen}`);
  assert.ok(run.mostWriters <= 1, `${run.scenario}: ${run.mostWriters} writers at once: ${seen}`);
  assert.ok(run.acknowledged > 0, `${run.scenario}: writes went on: ${seen}`);
  assert.ok(run.reads.requests > 0, `${run.scenario}: pages were read: ${seen}`);
  assert.ok(run.healedSeconds !== null, `${run.scenario}: whole again: ${seen}`);
  const due = SCENARIOS.find((s) => s.name === run.scenario)?.failover;
  if (due === "required") assert.ok(run.failovers >= 1, `${run.scenario}: a failover: ${seen}`);
  if (due === "forbidden") assert.equal(run.failovers, 0, `${run.scenario}: no failover: ${seen}`);
}

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Observation } from "../../controller/types.js";
import { instanceView, primaryView } from "../../controller/view-fixtures.js";
import {
  publishDue,
  PUBLISH_MIN_INTERVAL_MS,
  PUBLISH_REFRESH_MS,
  summarizeObservation,
} from "./observed-state.js";

test("summarizeObservation: what each instance answered; nothing guessed for one that did not", () => {
  const observation: Observation = {
    at: 0,
    primary: "mysql-0",
    switchoverRequest: null,
    desiredInstances: null,
    instances: [
      primaryView(0, { gtidCurrent: "0-1-5", gtidBinlog: "0-1-5" }),
      instanceView(1, { gtidCurrent: "0-1-5", gtidBinlog: "0-1-5" }),
      instanceView(2, { reachable: false, error: "timeout" }),
    ],
  };
  const summary = summarizeObservation(observation, "c1", new Date(0));
  assert.deepEqual(summary.instances, [
    {
      name: "mysql-0",
      reachable: true,
      readOnly: false,
      gtid: "0-1-5",
      semiSync: true,
      replicating: null,
      lagSeconds: null,
      error: null,
    },
    {
      name: "mysql-1",
      reachable: true,
      readOnly: true,
      gtid: "0-1-5",
      semiSync: null,
      replicating: true,
      lagSeconds: 0,
      error: null,
    },
    {
      name: "mysql-2",
      reachable: false,
      readOnly: null,
      gtid: null,
      semiSync: null,
      replicating: null,
      lagSeconds: null,
      error: "timeout",
    },
  ]);
});

test("publishDue: the first at once, a change at most every interval, the same content on refresh", () => {
  assert.equal(publishDue(null, "a", 0), true);
  const last = { content: "a", at: 1000 };
  assert.equal(publishDue(last, "b", 1000 + PUBLISH_MIN_INTERVAL_MS - 1), false);
  assert.equal(publishDue(last, "b", 1000 + PUBLISH_MIN_INTERVAL_MS), true);
  assert.equal(publishDue(last, "a", 1000 + PUBLISH_REFRESH_MS - 1), false);
  assert.equal(publishDue(last, "a", 1000 + PUBLISH_REFRESH_MS), true);
});

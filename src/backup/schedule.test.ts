import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSpec } from "../spec/load.js";
import { backupsToPrune, longestScheduleGapSeconds, nextRun, scheduleProblem } from "./schedule.js";

const at = (iso: string) => new Date(iso);
const backup = (name: string, createdAt: string) => ({ name, createdAt });

describe("backup schedules", () => {
  it("reads cron expressions in UTC, with an optional seconds field", () => {
    assert.equal(nextRun("0 3 * * *", at("2026-11-29T22:40:00Z")).toISOString(), "2026-11-30T03:00:00.000Z");
    assert.equal(
      nextRun("*/10 * * * * *", at("2026-11-29T22:40:03Z")).toISOString(),
      "2026-11-29T22:40:10.000Z",
    );
    assert.equal(scheduleProblem("0 3 * * *"), null);
    assert.notEqual(scheduleProblem("every night"), null);
  });

  it("knows the longest wait between two runs, so an alert allows for a weekend", () => {
    assert.equal(longestScheduleGapSeconds("0 3 * * *", at("2026-11-29T22:40:00Z")), 86_400);
    assert.equal(longestScheduleGapSeconds("0 3 * * 1-5", at("2026-11-29T22:40:00Z")), 3 * 86_400);
    assert.equal(longestScheduleGapSeconds("*/10 * * * * *", at("2026-11-29T22:40:03Z")), 10);
  });

  it("a bad schedule in the spec is bad input naming the field, with an example", () => {
    assert.throws(
      () => parseSpec({ backup: { schedule: "every night" } }, "hapress.yaml"),
      /backup\.schedule.*not a cron expression[\s\S]*0 3 \* \* \*/,
    );
  });
});

describe("backup retention", () => {
  const backups = [
    backup("a", "2026-11-01T03:00:00Z"),
    backup("b", "2026-11-20T03:00:00Z"),
    backup("c", "2026-11-28T03:00:00Z"),
    backup("d", "2026-11-29T03:00:00Z"),
  ];
  const now = at("2026-11-29T12:00:00Z");

  it("keeps the newest `count`", () => {
    assert.deepEqual(backupsToPrune(backups, { count: 2 }, now).sort(), ["a", "b"]);
  });
  it("keeps those younger than `days`", () => {
    assert.deepEqual(backupsToPrune(backups, { days: 10 }, now).sort(), ["a"]);
  });
  it("with both, keeps what either rule keeps", () => {
    assert.deepEqual(backupsToPrune(backups, { count: 1, days: 5 }, now).sort(), ["a", "b"]);
  });
  it("never removes the newest backup, and nothing without a rule", () => {
    assert.deepEqual(backupsToPrune([backup("old", "2020-01-01T00:00:00Z")], { days: 1 }, now), []);
    assert.deepEqual(backupsToPrune(backups, {}, now), []);
  });
});

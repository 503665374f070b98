import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isResultLine, readResultLine, resultLine } from "./result-line.js";

const run = {
  scenario: "primary-kill",
  run: 1,
  skipped: null,
  reads: { availability: 1, longestOutageMs: 0 },
  writes: { availability: 0.99, longestOutageMs: 1500 },
  posts: { availability: 1, longestOutageMs: 0 },
  marks: [{ at: 1, label: "kill -9 mysql-0" }],
  events: [],
  timeline: { start: 0, end: 10 },
  problems: [],
};

describe("the in-cluster runner's result line", () => {
  it("carries the runs whole, on one line", () => {
    const line = resultLine({ target: "kubernetes", site: "blog", runs: [run] as never });
    assert.ok(isResultLine(line));
    assert.ok(!line.includes("\n"));
    const back = readResultLine(line, "pod hapress-chaos-1");
    assert.equal(back.site, "blog");
    assert.deepEqual(back.runs, [run]);
  });

  it("says which runner when the line is cut short or is not runs", () => {
    const line = resultLine({ target: "kubernetes", site: "blog", runs: [] });
    assert.throws(() => readResultLine(line.slice(0, 30), "pod p"), /pod p: its result line does not decode/);
    const foreign = resultLine({ target: "kubernetes", site: "blog", runs: [{ scenario: 3 }] as never });
    assert.throws(() => readResultLine(foreign, "pod p"), /pod p: field 'runs.0.scenario'/);
  });
});

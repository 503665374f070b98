import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bucketize, median, summarizeChannel } from "./timeline.js";

describe("what clients saw, summarized", () => {
  const start = 1_000_000;
  const samples = [
    { at: start + 100, ok: true },
    { at: start + 200, ok: true },
    { at: start + 300, ok: false },
    { at: start + 900, ok: false },
    { at: start + 1_400, ok: true },
    { at: start + 1_500, ok: true },
  ];

  it("counts failures, availability and the longest time without a success", () => {
    const summary = summarizeChannel(samples, start, start + 1_600);
    assert.deepEqual(summary, {
      requests: 6,
      failed: 2,
      availability: (100 * 4) / 6,
      longestOutageMs: 1_200,
      errors: [{ message: "?", count: 2 }],
    });
  });

  it("counts the end of the run without a success as outage", () => {
    assert.equal(summarizeChannel(samples, start, start + 5_000).longestOutageMs, 3_500);
    assert.deepEqual(summarizeChannel([], start, start + 5_000), {
      requests: 0,
      failed: 0,
      availability: 100,
      longestOutageMs: 0,
      errors: [],
    });
  });

  it("says why requests failed, each reason counted", () => {
    const failures = [
      { at: start + 1, ok: false, error: "ECONNREFUSED" },
      { at: start + 2, ok: false, error: "ECONNREFUSED" },
      { at: start + 3, ok: false, error: "read-only" },
    ];
    assert.deepEqual(summarizeChannel(failures, start, start + 10).errors, [
      { message: "ECONNREFUSED", count: 2 },
      { message: "read-only", count: 1 },
    ]);
  });

  it("puts each request in its 100 ms bucket", () => {
    const buckets = bucketize(samples, start, start + 1_600);
    assert.equal(buckets.length, 16);
    assert.deepEqual(buckets[1], { ok: 1, failed: 0 });
    assert.deepEqual(buckets[3], { ok: 0, failed: 1 });
    assert.deepEqual(buckets[9], { ok: 0, failed: 1 });
    assert.equal(
      buckets.reduce((n, b) => n + b.ok + b.failed, 0),
      samples.length,
    );
  });

  it("takes the median of odd and even counts", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
  });
});

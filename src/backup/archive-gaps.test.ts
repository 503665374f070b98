import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addToRuns, archiveGaps, gapsInRuns, type GtidRun } from "./archive-gaps.js";
import { archiveLagBytes, resumeFile } from "./binlog-archiver.js";
import type { ArchivedSegment } from "./replay-plan.js";

function segment(name: string, server: number, seqs: number[]): ArchivedSegment {
  return {
    name,
    files: [`${name}/mysql-bin.000001`],
    transactions: seqs.map((seq) => ({ gtid: { domain: 0, server, seq }, time: 1_700_000_000 + seq })),
  };
}

describe("holes in the binary-log archive", () => {
  it("finds none where a new primary's segment repeats what the old one held", () => {
    assert.deepEqual(
      archiveGaps([
        segment("000001-mysql-0", 100, [1, 2, 3, 4]),
        segment("000002-mysql-1", 101, [1, 2, 3, 4, 5, 6]),
      ]),
      [],
    );
  });

  it("does not count where the archive begins as a hole", () => {
    assert.deepEqual(archiveGaps([segment("000003-mysql-2", 102, [40, 41, 42])]), []);
  });

  it("reports a new primary whose logs start after the last archived transaction", () => {
    assert.deepEqual(
      archiveGaps([segment("000001-mysql-0", 100, [1, 2, 3]), segment("000002-mysql-1", 101, [7, 8])]),
      [{ after: "0-100-3", next: "0-101-7", segment: "000002-mysql-1" }],
    );
  });

  it("continues through a segment that overlaps what is held and goes further", () => {
    assert.deepEqual(
      archiveGaps([
        segment("000001-mysql-0", 100, [1, 2, 3, 4]),
        segment("000002-mysql-1", 101, [3, 4, 5]),
        segment("000003-mysql-2", 102, [2, 3, 4, 5, 6, 9]),
      ]),
      [{ after: "0-102-6", next: "0-102-9", segment: "000003-mysql-2" }],
    );
  });

  it("keeps a handful of runs, not one object per transaction", () => {
    const runs: GtidRun[] = [];
    for (let seq = 1; seq <= 100_000; seq++) addToRuns(runs, { domain: 0, server: 100, seq });
    addToRuns(runs, { domain: 1, server: 100, seq: 7 });
    for (let seq = 100_005; seq <= 100_010; seq++) addToRuns(runs, { domain: 0, server: 101, seq });
    assert.deepEqual(runs, [
      { first: { domain: 0, server: 100, seq: 1 }, last: { domain: 0, server: 100, seq: 100_000 } },
      { first: { domain: 0, server: 101, seq: 100_005 }, last: { domain: 0, server: 101, seq: 100_010 } },
    ]);
    assert.deepEqual(gapsInRuns([{ name: "000001-mysql-0", runs }]), [
      { after: "0-100-100000", next: "0-101-100005", segment: "000001-mysql-0" },
    ]);
  });

  it("reports a hole inside one segment (a file purged before it was copied)", () => {
    assert.deepEqual(archiveGaps([segment("000001-mysql-0", 100, [1, 2, 10, 11])]), [
      { after: "0-100-2", next: "0-100-10", segment: "000001-mysql-0" },
    ]);
  });
});

describe("where an archive segment resumes", () => {
  it("continues its last file, or starts at the primary's first when it has none", () => {
    assert.equal(
      resumeFile(["mysql-bin.000003", "mysql-bin.000004"], "mysql-bin.000001"),
      "mysql-bin.000004",
    );
    assert.equal(resumeFile([], "mysql-bin.000002"), "mysql-bin.000002");
  });

  it("starts at the primary's first when the file it holds last was purged (the hole is reported)", () => {
    assert.equal(resumeFile(["mysql-bin.000003"], "mysql-bin.000007"), "mysql-bin.000007");
  });
});

describe("how far the archive is behind the primary", () => {
  const primary = [
    { name: "mysql-bin.000001", size: 1000 },
    { name: "mysql-bin.000002", size: 700 },
  ];

  it("is nothing when the segment holds every byte", () => {
    assert.equal(
      archiveLagBytes(
        primary,
        new Map([
          ["mysql-bin.000001", 1000],
          ["mysql-bin.000002", 700],
        ]),
      ),
      0,
    );
  });

  it("counts the unarchived tail of the file being written and any file not begun", () => {
    assert.equal(
      archiveLagBytes(
        primary,
        new Map([
          ["mysql-bin.000001", 1000],
          ["mysql-bin.000002", 650],
        ]),
      ),
      50,
    );
    assert.equal(archiveLagBytes(primary, new Map([["mysql-bin.000001", 400]])), 1300);
  });
});

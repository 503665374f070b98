import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { segmentsToPrune } from "./prune.js";
import { archiveFolderForRestore, isArchiveFolder } from "./archive-folder.js";
import { addToRuns, type GtidRun, type SegmentRuns } from "./archive-gaps.js";

function segment(name: string, seqs: number[]): SegmentRuns {
  const runs: GtidRun[] = [];
  for (const seq of seqs) addToRuns(runs, { domain: 0, server: 100, seq });
  return { name, runs };
}

describe("archive retention", () => {
  const archive = [
    segment("000001-mysql-0", [1, 2, 3]),
    segment("000002-mysql-1", [1, 2, 3, 4, 5]),
    segment("000003-mysql-0", [5, 6]),
  ];

  it("removes the segments the oldest kept backup already holds, never the newest", () => {
    assert.deepEqual(segmentsToPrune(archive, "0-100-5"), ["000001-mysql-0", "000002-mysql-1"]);
    assert.deepEqual(segmentsToPrune(archive, "0-100-9"), ["000001-mysql-0", "000002-mysql-1"]);
  });

  it("keeps a segment with one transaction the backup lacks", () => {
    assert.deepEqual(segmentsToPrune(archive, "0-100-4"), ["000001-mysql-0"]);
    assert.deepEqual(segmentsToPrune(archive, "0-100-2"), []);
  });

  it("keeps everything without a backup, or with a position outside domain 0", () => {
    assert.deepEqual(segmentsToPrune(archive, null), []);
    assert.deepEqual(segmentsToPrune(archive, "1-100-50"), []);
  });
});

describe("a restored site's archive folder", () => {
  it("is binlogs while nothing is there, else a folder of its own named by the time", () => {
    const now = new Date("2026-11-30T02:10:05.123Z");
    assert.equal(archiveFolderForRestore(false, now), "binlogs");
    assert.equal(archiveFolderForRestore(true, now), "binlogs-20261130T021005Z");
    assert.ok(isArchiveFolder(archiveFolderForRestore(true, now)));
    assert.ok(!isArchiveFolder("20261130T021005Z"), "a backup's folder is not an archive");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeDataFrame, encodeEndFrame, FrameDecoder } from "./frames.js";
import { parseBinlogInfo } from "./clone.js";

describe("backup stream framing", () => {
  it("round-trips data split at every byte boundary", () => {
    const stream = Buffer.concat([
      encodeDataFrame(Buffer.from("hello ")),
      encodeDataFrame(Buffer.from("world")),
      encodeEndFrame(0),
    ]);
    for (let cut = 1; cut < stream.length; cut++) {
      const decoder = new FrameDecoder();
      const events = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      const data = Buffer.concat(events.flatMap((e) => (e.kind === "data" ? [e.payload] : []))).toString();
      assert.equal(data, "hello world");
      assert.deepEqual(events.at(-1), { kind: "end", status: 0 });
      assert.equal(decoder.complete, true);
    }
  });

  it("reports a failed donor and an incomplete stream", () => {
    const failed = new FrameDecoder();
    assert.deepEqual(failed.push(encodeEndFrame(1)), [{ kind: "end", status: 1 }]);
    const cut = new FrameDecoder();
    cut.push(encodeDataFrame(Buffer.from("partial")).subarray(0, 6));
    assert.equal(cut.complete, false);
  });

  it("rejects data after the end", () => {
    const decoder = new FrameDecoder();
    assert.throws(() => decoder.push(Buffer.concat([encodeEndFrame(0), Buffer.from([1])])), /after the end/);
  });
});

describe("backup GTID", () => {
  it("reads the GTID from xtrabackup_binlog_info", () => {
    assert.equal(parseBinlogInfo("mysql-bin.000002\t1234\t0-100-57\n"), "0-100-57");
    assert.equal(parseBinlogInfo("mysql-bin.000002\t1234\t0-100-57,1-101-3\n"), "0-100-57,1-101-3");
    assert.equal(parseBinlogInfo(""), "");
  });
});

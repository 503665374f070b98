import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseBinlogTransactions, planReplay, type ArchivedSegment } from "./replay-plan.js";

const T0 = Date.UTC(2026, 10, 29, 12, 0, 0) / 1000;

/** A segment of transactions 0-server-seq, one second apart from T0 + seq. */
function segment(name: string, server: number, seqs: number[]): ArchivedSegment {
  return {
    name,
    files: [`${name}/mysql-bin.000001`],
    transactions: seqs.map((seq) => ({ gtid: { domain: 0, server, seq }, time: T0 + seq })),
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("planning a point-in-time replay", () => {
  it("replays what follows the backup, strictly before the target time", () => {
    const plan = planReplay([segment("000001-mysql-0", 100, range(1, 20))], "0-100-5", {
      kind: "time",
      time: T0 + 12,
    });
    assert.deepEqual(plan, {
      ok: true,
      steps: [
        {
          segment: "000001-mysql-0",
          files: ["000001-mysql-0/mysql-bin.000001"],
          startAfter: "0-100-5",
          stopAt: "0-100-11",
          transactions: 6,
        },
      ],
      lastReplayed: "0-100-11",
      transactions: 6,
    });
  });

  it("crosses a failover: the new primary's segment repeats what it replicated; each transaction is replayed once", () => {
    const plan = planReplay(
      [
        segment("000001-mysql-0", 100, range(1, 10)),
        segment(
          "000002-mysql-1",
          101,
          [...range(1, 10), ...range(11, 15)].map((s) => s),
        ),
      ],
      "0-100-3",
      { kind: "time", time: T0 + 14 },
    );
    assert.equal(plan.ok, true);
    if (!plan.ok) return;
    assert.deepEqual(
      plan.steps.map((s) => [s.segment, s.startAfter, s.stopAt, s.transactions]),
      [
        ["000001-mysql-0", "0-100-3", "0-100-10", 7],
        ["000002-mysql-1", "0-100-10", "0-101-13", 3],
      ],
    );
  });

  it("stops at a GTID, inclusive", () => {
    const plan = planReplay([segment("000001-mysql-0", 100, range(1, 20))], "0-100-5", {
      kind: "gtid",
      gtid: { domain: 0, server: 100, seq: 9 },
    });
    assert.equal(plan.ok && plan.lastReplayed, "0-100-9");
  });

  it("refuses a gap, naming the missing transactions and how far a restore can go", () => {
    const plan = planReplay(
      [segment("000001-mysql-0", 100, range(1, 10)), segment("000002-mysql-1", 101, range(14, 20))],
      "0-100-2",
      { kind: "time", time: T0 + 19 },
    );
    assert.equal(plan.ok, false);
    assert.match(
      plan.ok ? "" : plan.problem,
      /gap: after 0-100-10 the next transaction it holds is 0-101-14 \(in 000002-mysql-1\); transactions 11 to 13 are missing/,
    );
  });

  it("refuses a target the archive has not reached, and a GTID it does not hold", () => {
    const segments = [segment("000001-mysql-0", 100, range(1, 10))];
    const late = planReplay(segments, "0-100-2", { kind: "time", time: T0 + 60 });
    assert.match(late.ok ? "" : late.problem, /the archive ends before .*its last transaction is 0-100-10/);
    const missing = planReplay(segments, "0-100-2", {
      kind: "gtid",
      gtid: { domain: 0, server: 100, seq: 11 },
    });
    assert.match(missing.ok ? "" : missing.problem, /GTID 0-100-11 is not in the archive/);
  });

  it("restores to a time after the last archived transaction when the running primary had written nothing more", () => {
    const segments = [segment("000001-mysql-0", 100, range(1, 10))];
    const target = { kind: "time" as const, time: T0 + 60 };
    // The primary was at 0-100-10 at T0 + 90: the archive holds all of it, the site was quiet.
    const quiet = planReplay(segments, "0-100-2", target, { seq: 10, time: T0 + 90 });
    assert.ok(quiet.ok, quiet.ok ? "" : quiet.problem);
    assert.equal(quiet.lastReplayed, "0-100-10");
    // The primary was further: the archive lags, the time cannot be reached yet.
    const lagging = planReplay(segments, "0-100-2", target, { seq: 12, time: T0 + 90 });
    assert.match(lagging.ok ? "" : lagging.problem, /the archive ends before/);
    // A time after the primary was asked: nobody knows what came between.
    const future = planReplay(
      segments,
      "0-100-2",
      { kind: "time", time: T0 + 120 },
      { seq: 10, time: T0 + 90 },
    );
    assert.match(future.ok ? "" : future.problem, /the archive ends before/);
  });

  it("a target right after the backup replays nothing, and that is a plan", () => {
    const plan = planReplay([segment("000001-mysql-0", 100, range(1, 10))], "0-100-7", {
      kind: "time",
      time: T0 + 8,
    });
    assert.deepEqual(plan, { ok: true, steps: [], lastReplayed: null, transactions: 0 });
  });

  it("reads the transactions of mariadb-binlog's text output", () => {
    const text = [
      "# at 256",
      "#261129 12:00:05 server id 100  end_log_pos 298 CRC32 0x1a2b3c4d 	GTID 0-100-5 trans",
      "/*!100101 SET @@session.skip_parallel_replication=0*//*!*/;",
      "#261129 12:00:07 server id 101  end_log_pos 640 CRC32 0x00000000 	GTID 0-101-6 ddl",
      "#261129 12:00:07 server id 101  end_log_pos 700 CRC32 0x00000000 	Xid = 12",
    ].join("\n");
    assert.deepEqual(parseBinlogTransactions(text), [
      { gtid: { domain: 0, server: 100, seq: 5 }, time: T0 + 5 },
      { gtid: { domain: 0, server: 101, seq: 6 }, time: T0 + 7 },
    ]);
  });
});

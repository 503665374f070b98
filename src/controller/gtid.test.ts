import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gtidContains, gtidProgress, hasErrantTransactions, parseGtidPosition } from "./gtid.js";

describe("GTID positions", () => {
  it("parses positions with several domains and the empty position", () => {
    assert.deepEqual(
      [...parseGtidPosition("0-100-57,1-101-3").values()],
      [
        { domain: 0, server: 100, seq: 57 },
        { domain: 1, server: 101, seq: 3 },
      ],
    );
    assert.equal(parseGtidPosition("").size, 0);
    assert.throws(() => parseGtidPosition("garbage"), /not a GTID/);
  });
  it("measures progress", () => {
    assert.equal(gtidProgress(""), 0);
    assert.equal(gtidProgress("0-100-57,1-101-3"), 60);
  });
  it("detects errant transactions", () => {
    assert.equal(hasErrantTransactions("0-100-57", "0-100-57"), false);
    assert.equal(hasErrantTransactions("0-100-56", "0-101-60"), false);
    assert.equal(hasErrantTransactions("0-100-58", "0-101-57"), true, "ahead of the new primary");
    assert.equal(hasErrantTransactions("0-100-58", "0-101-58"), true, "same sequence, other server");
    assert.equal(hasErrantTransactions("1-100-1", "0-101-9"), true, "a domain the reference lacks");
    assert.equal(hasErrantTransactions("", "0-101-9"), false);
  });
  it("compares containment domain by domain", () => {
    assert.equal(gtidContains("0-101-60", "0-100-57"), true);
    assert.equal(gtidContains("0-101-50", "0-100-57"), false);
    assert.equal(gtidContains("0-1-5", ""), true);
    assert.equal(gtidContains("", "0-1-5"), false);
  });
});

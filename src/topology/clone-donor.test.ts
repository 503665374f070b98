import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseDonor, type DonorCandidate } from "./clone-donor.js";

const primary: DonorCandidate = { name: "mysql-0", ready: true, hasData: true, lagSeconds: null };

test("a streaming replica gives its data before the primary (whose commits a backup would hold)", () => {
  const candidates = [
    primary,
    { name: "mysql-1", ready: true, hasData: true, lagSeconds: 0 },
    { name: "mysql-2", ready: false, hasData: false, lagSeconds: null },
  ];
  assert.equal(chooseDonor(candidates, "mysql-0", "mysql-2"), "mysql-1");
});

test("the least behind replica; never the pod being cloned", () => {
  const candidates = [
    primary,
    { name: "mysql-1", ready: true, hasData: true, lagSeconds: 3 },
    { name: "mysql-2", ready: true, hasData: true, lagSeconds: 0 },
  ];
  assert.equal(chooseDonor(candidates, "mysql-0", "mysql-3"), "mysql-2");
  assert.equal(chooseDonor(candidates, "mysql-0", "mysql-2"), "mysql-1");
});

test("the primary when no replica streams close enough behind", () => {
  const candidates = [
    primary,
    { name: "mysql-1", ready: true, hasData: true, lagSeconds: 60 },
    { name: "mysql-2", ready: true, hasData: true, lagSeconds: null },
  ];
  assert.equal(chooseDonor(candidates, "mysql-0", "mysql-3"), "mysql-0");
});

test("any ready instance with data when the primary is not ready; none at all otherwise", () => {
  const candidates = [
    { ...primary, ready: false },
    { name: "mysql-1", ready: true, hasData: true, lagSeconds: null },
  ];
  assert.equal(chooseDonor(candidates, "mysql-0", "mysql-2"), "mysql-1");
  assert.equal(chooseDonor([{ ...primary, ready: false }], "mysql-0", "mysql-1"), null);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { InputError } from "../errors.js";
import { refuseRemovingPrimary } from "./primary.js";

const record = (primary: string) => ({ primary, epoch: 2, changedAt: "t", reason: "r" });

test("refuseRemovingPrimary: scaling below the primary's ordinal is refused with the count that works", () => {
  assert.throws(
    () => refuseRemovingPrimary(record("mysql-2"), 2),
    (e: unknown) =>
      e instanceof InputError &&
      /2 would remove mysql-2, the current primary; keep at least 3/.test(e.message),
  );
  assert.doesNotThrow(() => refuseRemovingPrimary(record("mysql-2"), 3));
  assert.doesNotThrow(() => refuseRemovingPrimary(null, 1));
});

import assert from "node:assert/strict";
import { it } from "node:test";
import { processesMentioning } from "./helpers/site.js";

// Runs last (files run in name order, one at a time): every site a test started must be gone.
it("leaves no process of any test site running", () => {
  assert.deepEqual(processesMentioning("/tmp/hpt-"), []);
});

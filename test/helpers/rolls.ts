import assert from "node:assert/strict";
import type { TestSite } from "./site.js";

/** The controller's events since `eventsBefore`: no failover, 3 restarts, the old primary's last. */
export async function assertRolledInOrder(
  site: TestSite,
  eventsBefore: number,
  oldPrimary: string,
): Promise<void> {
  const events = (await site.events()).slice(eventsBefore);
  assert.ok(!events.some((e) => e.kind === "failover-started"), "no failover");
  const restarted = events.filter((e) => e.kind === "rolling-update").map((e) => e.instance);
  assert.equal(restarted.length, 3, restarted.join(", "));
  assert.equal(restarted.at(-1), oldPrimary, `the old primary restarted last: ${restarted.join(", ")}`);
}

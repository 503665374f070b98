import assert from "node:assert/strict";
import { test } from "node:test";
import { PARTITION_TABLE, partitionScript } from "./partition.js";

test("the partition drops both directions between the isolated address and all but the allowed ones", () => {
  const script = partitionScript("127.78.59.10", ["127.78.59.1"]);
  assert.match(script, new RegExp(`^table ip ${PARTITION_TABLE} \\{`));
  assert.match(script, /hook output/);
  assert.match(script, /ip daddr 127\.78\.59\.10 ip saddr != \{ 127\.78\.59\.1 \} drop/);
  assert.match(script, /ip saddr 127\.78\.59\.10 ip daddr != \{ 127\.78\.59\.1 \} drop/);
});

test("only loopback addresses, and someone must still reach the isolated one", () => {
  assert.throws(() => partitionScript("10.0.0.5", ["127.0.0.1"]), /not a loopback address: '10\.0\.0\.5'/);
  assert.throws(() => partitionScript("127.0.0.5", ["127.0.0.1; flush ruleset"]), /not a loopback address/);
  assert.throws(() => partitionScript("127.0.0.5", []), /at least one address/);
});

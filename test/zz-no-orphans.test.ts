import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { it } from "node:test";
import { processesMentioning } from "./helpers/site.js";
import { SYSTEM_SERVICE_ROOT } from "../src/platform/local/layout.js";
import { PARTITION_TABLE } from "../src/chaos/partition.js";

// Runs last (files run in name order, one at a time): every site a test started must be gone.
it("leaves no process of any test site running", () => {
  assert.deepEqual(processesMentioning("/tmp/hpt-"), []);
  // Started by root, the services' sockets and data are named by their service root instead.
  assert.deepEqual(processesMentioning(`${SYSTEM_SERVICE_ROOT}/`), []);
});

it("leaves no chaos packet filter behind", () => {
  const tables = spawnSync("nft", ["list", "tables"], { encoding: "utf8" });
  if (tables.error || tables.status !== 0) return; // no nft, or not root: no partition ever ran
  assert.doesNotMatch(
    tables.stdout,
    new RegExp(`table ip ${PARTITION_TABLE}\\b`),
    "a partition was left in place",
  );
});

it("leaves nothing of the real test cluster running (test/kube-node.test.ts, test/kubernetes.test.ts)", () => {
  assert.deepEqual(processesMentioning("/var/tmp/hapress-test-cluster-tests"), []);
  const bridge = spawnSync("ip", ["link", "show", "hpk-cni0"], { encoding: "utf8" });
  if (bridge.error) return; // no iproute2: the cluster never ran
  assert.notEqual(bridge.status, 0, "the test cluster's bridge hpk-cni0 was left behind");
  const namespaces = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
  assert.deepEqual(
    namespaces.split("\n").filter((line) => line.startsWith("cni-")),
    [],
    "pod network namespaces left behind",
  );
});

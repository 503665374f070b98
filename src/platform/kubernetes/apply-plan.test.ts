import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  objectChanged,
  objectDiff,
  PRUNABLE_KINDS,
  pruneCandidates,
  siteSelector,
  secretDrift,
} from "./apply-plan.js";

const configMap = (name: string, data: Record<string, string>, metadata: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "shop", ...metadata },
  data,
});

describe("apply: what changed", () => {
  it("counts a new object, and a changed field, as a change", () => {
    assert.equal(objectChanged(null, configMap("a", {})), true);
    assert.equal(objectChanged(configMap("a", { k: "1" }), configMap("a", { k: "2" })), true);
  });

  it("ignores the server's bookkeeping and status, and key order", () => {
    const before = {
      ...configMap(
        "a",
        { x: "1", y: "2" },
        { resourceVersion: "10", managedFields: [{ manager: "a" }], uid: "u" },
      ),
      status: { phase: "old" },
    };
    const after = {
      ...configMap("a", { y: "2", x: "1" }, { resourceVersion: "11", managedFields: [], uid: "u" }),
      status: { phase: "new" },
    };
    assert.equal(objectChanged(before, after), false);
  });
});

describe("apply --diff: what changes, field by field", () => {
  it("shows the changed, added and removed fields, not the bookkeeping", () => {
    const before = configMap("a", { title: "Old", gone: "x" }, { resourceVersion: "10" });
    const after = configMap("a", { title: "New", added: "y" }, { resourceVersion: "11" });
    assert.deepEqual(objectDiff(before, after), [
      '+ data.added: "y"',
      '- data.gone: "x"',
      '- data.title: "Old"',
      '+ data.title: "New"',
    ]);
    assert.deepEqual(objectDiff(after, after), []);
  });

  it("never prints a Secret's values", () => {
    const secret = (value: string) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s", namespace: "shop" },
      data: { password: Buffer.from(value).toString("base64") },
    });
    const lines = objectDiff(secret("old-password"), secret("new-password"));
    assert.deepEqual(lines, ["- data.password: (hidden)", "+ data.password: (hidden)"]);
  });
});

describe("apply: what to prune", () => {
  it("prunes this site's objects the spec no longer renders, never owned ones, never data", () => {
    const existing = [
      configMap("kept", {}),
      configMap("dropped", {}),
      {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "wordpress-cron-1", namespace: "shop", ownerReferences: [{ kind: "CronJob" }] },
      },
    ];
    const pruned = pruneCandidates(existing, [configMap("kept", {})]);
    assert.deepEqual(
      pruned.map((o) => o.metadata?.name),
      ["dropped"],
    );
    assert.equal(
      PRUNABLE_KINDS.some((k) => k.kind === "PersistentVolumeClaim"),
      false,
    );
    assert.equal(
      siteSelector("shop"),
      "app.kubernetes.io/instance=shop,app.kubernetes.io/managed-by=hapress",
    );
  });
});

it("secretDrift names the keys whose cluster value differs; a new Secret or a new key is no drift", () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const rendered = {
    stringData: { "app-password": "new", "admin-password": "same", "clone-token": "added" },
  };
  assert.deepEqual(secretDrift(null, rendered), []);
  assert.deepEqual(
    secretDrift({ data: { "app-password": b64("old"), "admin-password": b64("same") } }, rendered),
    ["app-password"],
  );
});

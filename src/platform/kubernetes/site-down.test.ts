import assert from "node:assert/strict";
import { test } from "node:test";
import { downPlan } from "./site-down.js";
import type { ClusterObject } from "./apply-plan.js";

const object = (kind: string, name: string, owned = false, component?: string): ClusterObject => ({
  kind,
  metadata: {
    name,
    ...(owned ? { ownerReferences: [{ kind: "Pod" }] } : {}),
    ...(component ? { labels: { "app.kubernetes.io/component": component } } : {}),
  },
});

const existing = [
  object("Service", "mysql"),
  object("ConfigMap", "hapress-state"),
  object("ConfigMap", "hapress-observed"),
  object("Secret", "hapress-credentials"),
  object("StatefulSet", "mysql"),
  object("PersistentVolumeClaim", "data-mysql-0"),
  object("PersistentVolumeClaim", "data-mysql-3", true),
  object("Job", "wordpress-cron-123", true),
  object("Deployment", "wordpress"),
  object("PersistentVolumeClaim", "hapress-backups", false, "backup"),
];

const names = (objects: ClusterObject[]) => objects.map((o) => `${o.kind}/${o.metadata?.name}`);

test("down keeps the data (volumes, credentials, primary record) and deletes workloads first", () => {
  const plan = downPlan(existing, false);
  assert.deepEqual(names(plan.remove), [
    "Deployment/wordpress",
    "StatefulSet/mysql",
    "Service/mysql",
    "ConfigMap/hapress-observed",
  ]);
  assert.deepEqual(names(plan.keep).sort(), [
    "ConfigMap/hapress-state",
    "PersistentVolumeClaim/data-mysql-0",
    "PersistentVolumeClaim/data-mysql-3",
    "PersistentVolumeClaim/hapress-backups",
    "Secret/hapress-credentials",
  ]);
});

test("down --volumes deletes the data too, volumes last; owned objects are left to their owner", () => {
  const plan = downPlan(existing, true);
  assert.deepEqual(names(plan.remove).slice(-2), [
    "PersistentVolumeClaim/data-mysql-0",
    "PersistentVolumeClaim/data-mysql-3",
  ]);
  assert.ok(!names(plan.remove).includes("Job/wordpress-cron-123"));
  assert.ok(names(plan.remove).includes("Secret/hapress-credentials"));
  assert.ok(names(plan.remove).includes("ConfigMap/hapress-state"));
  assert.deepEqual(names(plan.keep), ["PersistentVolumeClaim/hapress-backups"], "backups outlive the site");
});

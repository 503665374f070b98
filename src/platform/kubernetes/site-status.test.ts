import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { parseSpec } from "../../spec/load.js";
import { clusterSiteStatus, type ClusterSnapshot } from "./site-status.js";

const spec = parseSpec(
  { name: "blog", kubernetes: { namespace: "shop", ingress: { host: "blog.example.com" } } },
  "t",
);
const now = new Date("2026-11-29T12:00:00Z");

function pod(
  name: string,
  component: string,
  extra: { role?: string; ready?: boolean; waiting?: string } = {},
): V1Pod {
  return {
    metadata: {
      name,
      labels: {
        "app.kubernetes.io/component": component,
        ...(extra.role ? { "hapress.io/role": extra.role } : {}),
      },
    },
    status: {
      phase: "Running",
      podIP: `10.0.0.${name.length}`,
      conditions: [{ type: "Ready", status: extra.ready === false ? "False" : "True" }],
      containerStatuses: [
        {
          name: "mariadb",
          image: "x",
          imageID: "",
          ready: extra.ready !== false,
          restartCount: 2,
          ...(extra.waiting ? { state: { waiting: { reason: extra.waiting } } } : {}),
        },
      ],
    },
  };
}

function snapshot(overrides: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return {
    context: "prod",
    namespace: "shop",
    statefulSet: { replicas: 2, readyReplicas: 2 },
    wordpress: { replicas: 1, available: 1 },
    pods: [
      pod("mysql-1", "database", { role: "replica" }),
      pod("mysql-0", "database", { role: "primary" }),
      pod("wordpress-abc", "web"),
      pod("hapress-controller-x", "controller"),
    ],
    state: { primary: JSON.stringify({ primary: "mysql-0", epoch: 3, changedAt: "t", reason: "r" }) },
    observed: {
      observedAt: "2026-11-29T11:59:58Z",
      controller: "c1",
      instances: [
        {
          name: "mysql-0",
          reachable: true,
          readOnly: false,
          gtid: "0-1-9",
          semiSync: true,
          replicating: null,
          lagSeconds: null,
          error: null,
        },
        {
          name: "mysql-1",
          reachable: true,
          readOnly: true,
          gtid: "0-1-9",
          semiSync: null,
          replicating: true,
          lagSeconds: 0,
          error: null,
        },
      ],
    },
    lease: {
      spec: { holderIdentity: "c1", renewTime: new Date("2026-11-29T11:59:59Z"), leaseDurationSeconds: 10 },
    },
    events: [
      {
        metadata: {},
        involvedObject: {},
        reason: "promoted",
        message: "old",
        source: { component: "hapress-controller" },
        eventTime: new Date("2026-11-29T10:00:00Z"),
      },
      {
        metadata: {},
        involvedObject: {},
        reason: "routed",
        message: "new",
        source: { component: "hapress-controller" },
        eventTime: new Date("2026-11-29T11:00:00Z"),
      },
    ],
    ...overrides,
  };
}

test("a healthy site: ready, the recorded primary, the controller's observation per pod, the last event", () => {
  const status = clusterSiteStatus(spec, snapshot(), now);
  assert.equal(status.ready, true);
  assert.equal(status.stateDir, "kubernetes:prod/shop");
  assert.equal(status.primary, "mysql-0");
  assert.equal(status.primaryEpoch, 3);
  assert.equal(status.endpoints.mysqlPrimary, "mysql-primary.shop.svc:3306");
  assert.equal(status.endpoints.http, "http://blog.example.com");
  assert.equal(status.database.semiSync, "on");
  assert.equal(status.controller.running, true);
  assert.equal(status.controller.lastEvent?.kind, "routed");
  assert.deepEqual(
    status.pods.map((p) => [p.name, p.component, p.role, p.gtid, p.readOnly, p.restarts]),
    [
      ["hapress-controller-x", "controller", null, null, null, 2],
      ["mysql-0", "mysql", "primary", "0-1-9", false, 2],
      ["mysql-1", "mysql", "replica", "0-1-9", true, 2],
      ["wordpress-abc", "wordpress", null, null, null, 2],
    ],
  );
});

test("not ready when the labelled pod is not the recorded primary, or the lease went stale", () => {
  const mislabelled = snapshot({
    pods: [pod("mysql-0", "database", { role: "replica" }), pod("mysql-1", "database", { role: "primary" })],
  });
  assert.equal(clusterSiteStatus(spec, mislabelled, now).ready, false);
  const stale = clusterSiteStatus(spec, snapshot(), new Date("2026-11-29T12:10:00Z"));
  assert.equal(stale.ready, false);
  assert.equal(stale.controller.running, false);
  assert.equal(stale.controller.state, "no leader");
});

test("a failover in progress and a crash-looping pod are shown as such", () => {
  const status = clusterSiteStatus(
    spec,
    snapshot({
      state: {
        primary: JSON.stringify({ primary: "mysql-0", epoch: 3, changedAt: "t", reason: "r" }),
        memory: JSON.stringify({ failover: { from: "mysql-0", startedAt: 1 }, lastRecoveryAt: null }),
      },
      pods: [pod("mysql-0", "database", { role: "primary", ready: false, waiting: "CrashLoopBackOff" })],
    }),
    now,
  );
  assert.equal(status.controller.state, "failing over from mysql-0");
  assert.equal(status.pods[0]?.phase, "crashloop");
  assert.match(status.pods[0]?.message ?? "", /mariadb: CrashLoopBackOff/);
  assert.equal(status.ready, false);
});

test("a rolling update and its switchover are shown: pods on the new revision, what the controller does", () => {
  const status = clusterSiteStatus(
    spec,
    snapshot({
      statefulSet: { replicas: 2, readyReplicas: 2, updatedReplicas: 1, updateRevision: "mysql-7f9c" },
      state: {
        primary: JSON.stringify({ primary: "mysql-0", epoch: 3, changedAt: "t", reason: "r" }),
        memory: JSON.stringify({
          failover: null,
          switchover: {
            id: null,
            from: "mysql-0",
            to: "mysql-1",
            requestedBy: "the rolling update (1 of 2 instances updated)",
            startedAt: 1,
            deadlineAt: 10_001,
          },
          lastRecoveryAt: null,
          lastSwitchoverId: null,
        }),
      },
    }),
    now,
  );
  assert.deepEqual(status.database.rollout, { updated: 1, of: 2, revision: "revision mysql-7f9c" });
  assert.equal(
    status.controller.state,
    "switching over from mysql-0 to mysql-1 (requested by the rolling update (1 of 2 instances updated))",
  );
  const done = clusterSiteStatus(
    spec,
    snapshot({
      statefulSet: { replicas: 2, readyReplicas: 2, updatedReplicas: 2, updateRevision: "mysql-7f9c" },
    }),
    now,
  );
  assert.equal(done.database.rollout, undefined);
});

test("a site not deployed: not running, nothing recorded", () => {
  const status = clusterSiteStatus(
    spec,
    snapshot({
      statefulSet: null,
      wordpress: null,
      pods: [],
      state: null,
      observed: null,
      lease: null,
      events: [],
    }),
    now,
  );
  assert.equal(status.running, false);
  assert.equal(status.ready, false);
  assert.equal(status.primary, null);
  assert.deepEqual(status.pods, []);
  assert.equal(status.endpoints.http, undefined);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import type { PodStatus, SiteStatus } from "../status/site-status.js";
import { SiteMetrics, type SiteSnapshot } from "./site-metrics.js";

function pod(name: string, patch: Partial<PodStatus> = {}): PodStatus {
  return {
    name,
    component: "mysql",
    role: "replica",
    address: "127.1.2.11",
    port: 3306,
    pids: [100],
    ready: true,
    restarts: 0,
    phase: "running",
    gtid: "0-1-10",
    lagSeconds: 0,
    semiSync: true,
    readOnly: true,
    message: null,
    ...patch,
  };
}

function snapshot(pods: PodStatus[], patch: Partial<SiteSnapshot> = {}): SiteSnapshot {
  const status = {
    ready: true,
    primary: "mysql-0",
    primaryEpoch: 3,
    pods,
    pageCache: { enabled: true, ttlSeconds: 60, hit: 0, stale: 0, miss: 0, bypass: 0, hitRatio: null },
  } as unknown as SiteStatus;
  return {
    status,
    pageCache: new Map(),
    backup: {
      backups: { count: 0, newest: null, schedule: null },
      archive: {
        enabled: true,
        following: "000002-mysql-0",
        gaps: 0,
        lag: { segment: "000002-mysql-0", bytes: 0 },
      },
    },
    ...patch,
  };
}

async function samples(metrics: SiteMetrics): Promise<string[]> {
  return (await metrics.exposition()).body.split("\n").filter((line) => line && !line.startsWith("#"));
}

test("restarts and cache answers kept as running totals become counters that only rise", async () => {
  const metrics = new SiteMetrics(1_700_000_000_000);
  const cache = (hit: number) => new Map([["wordpress-0", { hit, stale: 1, miss: 2, bypass: 0 }]]);
  metrics.update(snapshot([pod("mysql-0", { restarts: 2 })], { pageCache: cache(5) }));
  metrics.update(snapshot([pod("mysql-0", { restarts: 3 })], { pageCache: cache(9) }));
  let lines = await samples(metrics);
  assert.ok(
    lines.includes('hapress_pod_restarts_total{pod="mysql-0",component="mysql"} 3'),
    lines.join("\n"),
  );
  assert.ok(lines.includes('hapress_page_cache_requests_total{pod="wordpress-0",result="hit"} 9'));
  assert.ok(lines.includes('hapress_page_cache_requests_total{pod="wordpress-0",result="miss"} 2'));
  // A pod made again starts from 0: its series restarts (a counter reset), never goes negative.
  metrics.update(snapshot([pod("mysql-0", { restarts: 1 })], { pageCache: cache(9) }));
  lines = await samples(metrics);
  assert.ok(lines.includes('hapress_pod_restarts_total{pod="mysql-0",component="mysql"} 1'));
});

test("a pod's role and phase, its connections, and pods that went away", async () => {
  const metrics = new SiteMetrics(1_700_000_000_000);
  const primary = pod("mysql-0", {
    role: "primary",
    phase: "running",
    connections: { inUse: 7, limit: 151, refused: 4 },
  });
  metrics.update(snapshot([primary, pod("mysql-1", { ready: false, phase: "cloning" })]));
  let lines = await samples(metrics);
  assert.ok(
    lines.includes('hapress_pod_info{pod="mysql-0",component="mysql",role="primary",phase="running"} 1'),
  );
  assert.ok(lines.includes('hapress_pod_ready{pod="mysql-1",component="mysql"} 0'));
  assert.ok(lines.includes('hapress_instance_connections{pod="mysql-0"} 7'));
  assert.ok(lines.includes('hapress_instance_connections_refused_total{pod="mysql-0"} 4'));
  metrics.update(snapshot([primary]));
  lines = await samples(metrics);
  assert.ok(
    !lines.some((line) => line.startsWith('hapress_pod_ready{pod="mysql-1"')),
    "a removed pod's gauge goes",
  );
});

test("backups and the archive: the newest backup's time, the schedule, gaps and lag", async () => {
  const metrics = new SiteMetrics(1_700_000_000_000);
  metrics.update(
    snapshot([], {
      backup: {
        backups: { count: 0, newest: null, schedule: null },
        archive: { enabled: true, following: null, gaps: 0, lag: null },
      },
    }),
  );
  let lines = await samples(metrics);
  assert.ok(lines.includes("hapress_backups 0"));
  assert.ok(
    !lines.some((line) => line.startsWith("hapress_backup_newest_timestamp_seconds")),
    "absent with none",
  );
  assert.ok(
    !lines.some((line) => line.startsWith("hapress_binlog_archive_lag_bytes")),
    "absent when unknown",
  );
  metrics.update(
    snapshot([], {
      backup: {
        backups: {
          count: 2,
          newest: { name: "20231114T221320Z", at: 1_700_000_000_000 },
          schedule: { expression: "0 3 * * *", longestGapSeconds: 86_400 },
        },
        archive: { enabled: true, following: null, gaps: 1, lag: { segment: "000003-mysql-1", bytes: 512 } },
      },
    }),
  );
  lines = await samples(metrics);
  assert.ok(lines.includes("hapress_backups 2"));
  assert.ok(lines.includes('hapress_backup_newest_timestamp_seconds{backup="20231114T221320Z"} 1700000000'));
  assert.ok(lines.includes('hapress_backup_schedule_max_interval_seconds{schedule="0 3 * * *"} 86400'));
  assert.ok(lines.includes("hapress_binlog_archive_gaps 1"));
  assert.ok(lines.includes("hapress_binlog_archive_running 0"));
  assert.ok(lines.includes('hapress_binlog_archive_lag_bytes{segment="000003-mysql-1"} 512'));
});

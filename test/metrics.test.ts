import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SiteStatus } from "../src/status/site-status.js";
import { sleep } from "../src/util/process.js";
import { eventually, makeSiteDir, repoRoot, TestSite } from "./helpers/site.js";

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released for Prometheus to bind). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Debian's Prometheus, scraping every second, in a folder of its own; stopped by its PID. */
class TestPrometheus {
  private process: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private log = "";

  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  async start(targets: Record<string, string[]>): Promise<void> {
    const jobs = Object.entries(targets).map(([job, urls]) => {
      const hosts = urls.map((url) => `"${new URL(url).host}"`).join(", ");
      return `  - job_name: ${job}\n    static_configs:\n      - targets: [${hosts}]\n`;
    });
    writeFileSync(
      join(this.dir, "prometheus.yml"),
      `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n${jobs.join("")}`,
    );
    const child = spawn(
      "prometheus",
      [
        `--config.file=${join(this.dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(this.dir, "data")}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.process = child;
    child.stdout?.on("data", (chunk: Buffer) => (this.log += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (this.log = (this.log + chunk.toString()).slice(-20_000)));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    await eventually(
      "Prometheus ready",
      async () => (await fetch(`http://127.0.0.1:${this.port}/-/ready`).catch(() => null))?.ok === true,
      30_000,
    );
  }

  /** An instant query's samples. */
  async query(promql: string): Promise<Sample[]> {
    const response = await fetch(
      `http://127.0.0.1:${this.port}/api/v1/query?query=${encodeURIComponent(promql)}`,
    );
    const body = (await response.json()) as { status: string; data?: { result: Sample[] }; error?: string };
    if (body.status !== "success") throw new Error(`${promql}: ${body.error ?? "query failed"}`);
    return body.data?.result ?? [];
  }

  /** The single value of a query, or null when it has no sample. */
  async value(promql: string): Promise<number | null> {
    const [sample] = await this.query(promql);
    return sample ? Number(sample.value[1]) : null;
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child?.pid || child.exitCode !== null) return;
    process.kill(child.pid, "SIGTERM");
    const stopped = await Promise.race([this.exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!stopped) {
      process.kill(child.pid, "SIGKILL");
      await this.exited;
    }
  }

  tail(): string {
    return this.log.slice(-2000);
  }
}

describe("metrics: a real Prometheus scrapes a local site through a failover", () => {
  let site: TestSite;
  let prometheus: TestPrometheus;
  let status: SiteStatus;
  const promDir = mkdtempSync("/tmp/hpt-prom-");

  before(async () => {
    // One WordPress pod (its page cache is counted) and a schedule that never comes due in a test
    // (1 January, 03:00 UTC), so every series the dashboard draws exists; mysqld_exporter on.
    site = new TestSite(
      makeSiteDir("metrics"),
      'wordpress:\n  replicas: 1\nbackup:\n  schedule: "0 3 1 1 *"\nmetrics:\n  mysqldExporter: true\n',
    );
    await site.up();
    status = await site.status();
    const metrics = status.endpoints.metrics;
    if (!metrics) throw new Error("status names no metrics endpoints");
    prometheus = new TestPrometheus(promDir, await freePort());
    // The job names the alert rules expect (HapressSupervisorDown reads up{job="hapress-supervisor"}).
    await prometheus.start({
      "hapress-controller": [metrics.controller],
      "hapress-supervisor": [metrics.supervisor],
      haproxy: [metrics.loadBalancer],
      mysqld: metrics.mysqld ?? [],
    });
  });

  after(async () => {
    await prometheus?.stop();
    rmSync(promDir, { recursive: true, force: true });
    await site?.destroy();
  });

  it("serves the Prometheus text format with HELP and TYPE, on loopback, and status names it", async () => {
    const metrics = status.endpoints.metrics;
    assert.ok(metrics);
    for (const url of [metrics.controller, metrics.supervisor, metrics.loadBalancer])
      assert.match(new URL(url).hostname, /^127\./, `${url} is a loopback address`);
    const text = await (await fetch(metrics.controller)).text();
    assert.match(text, /^# HELP hapress_failovers_total /m);
    assert.match(text, /^# TYPE hapress_failovers_total counter$/m);
    assert.match(text, /^# TYPE hapress_replication_lag_seconds gauge$/m);
    assert.match(text, /^# TYPE hapress_probe_duration_seconds histogram$/m);
    const siteText = await (await fetch(metrics.supervisor)).text();
    assert.match(siteText, /^# TYPE hapress_pod_restarts_total counter$/m);
    assert.match(siteText, /^# TYPE hapress_page_cache_requests_total counter$/m);
    assert.match(siteText, /^# HELP hapress_backup_newest_timestamp_seconds /m);
    const printed = await site.cli(["status"]);
    assert.ok(printed.stdout.includes(metrics.controller), printed.stdout);
    assert.ok(printed.stdout.includes(metrics.supervisor), printed.stdout);
    assert.ok(printed.stdout.includes(metrics.loadBalancer), printed.stdout);
    const missing = await fetch(metrics.controller.replace("/metrics", "/other"));
    assert.equal(missing.status, 404);
  });

  it("kill -9 of the primary: the failover counter rises by exactly one, the primary changes, lag returns to 0", async () => {
    await eventually(
      "both targets up in Prometheus",
      async () => {
        const up = await prometheus.query("up");
        return up.length === 6 && up.every((s) => s.value[1] === "1");
      },
      30_000,
    );
    const old = status.primary ?? "";
    await eventually(
      `Prometheus sees ${old} as the primary`,
      async () => (await prometheus.value(`hapress_primary{pod="${old}"}`)) === 1,
      30_000,
    );
    const before = await prometheus.value('hapress_failovers_total{outcome="promoted"}');
    assert.equal(before, 0, "no failover before the fault");

    process.kill(await site.mariadbdPid(old), "SIGKILL");
    const after = await site.waitFor(
      "a new primary, ready",
      (s) => s.primary !== null && s.primary !== old && s.pods.some((p) => p.name === s.primary && p.ready),
    );
    const promoted = after.primary ?? "";

    await eventually(
      `Prometheus sees ${promoted} as the primary and one failover`,
      async () =>
        (await prometheus.value(`hapress_primary{pod="${promoted}"}`)) === 1 &&
        (await prometheus.value(`hapress_primary{pod="${old}"}`)) === 0 &&
        (await prometheus.value('hapress_failovers_total{outcome="promoted"}')) === 1,
      60_000,
    );
    // Every replica streams again (the old primary rejoins or is re-cloned) and has applied everything.
    await site.waitFor("the site whole again", (s) => s.ready && s.pods.every((p) => p.ready), 180_000);
    await eventually(
      "replication lag back to 0 on every replica",
      async () => {
        const lag = await prometheus.query("hapress_replication_lag_seconds");
        const behind = await prometheus.query("hapress_replication_lag_transactions");
        return (
          lag.length === 2 && lag.every((s) => s.value[1] === "0") && behind.every((s) => s.value[1] === "0")
        );
      },
      60_000,
    );
    assert.equal(
      await prometheus.value('hapress_failovers_total{outcome="promoted"}'),
      1,
      "exactly one failover, several scrapes later",
    );
    assert.ok(((await prometheus.value("hapress_last_failover_duration_seconds")) ?? -1) >= 0);
    // HAProxy's own exporter: the mysql-primary endpoint routes to exactly one server, the new primary.
    assert.equal(await prometheus.value('haproxy_backend_active_servers{proxy="mysql-primary"}'), 1);
    const upServers = await prometheus.query('haproxy_server_status{proxy="mysql-primary",state="UP"} == 1');
    assert.deepEqual(
      upServers.map((s) => s.metric.server),
      [promoted],
      `HAProxy routes writes to ${promoted}; Prometheus log: ${prometheus.tail()}`,
    );
  });

  it("page reads count as cache hits by pod, a backup and the archive show, and status says nothing /metrics does not", async () => {
    const url = status.endpoints.http;
    assert.ok(url, "the site serves pages");
    const reads = 20;
    for (let i = 0; i < reads; i++) {
      const response: Response = await fetch(`${url}/`);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }
    // The first read may miss (a fresh cache); every later one within the TTL is a hit.
    await eventually(
      `at least ${reads - 1} cache hits on wordpress-0`,
      async () =>
        ((await prometheus.value('hapress_page_cache_requests_total{pod="wordpress-0",result="hit"}')) ??
          0) >=
        reads - 1,
      30_000,
    );

    assert.equal(await prometheus.value("hapress_backups"), 0);
    const taken = await site.cli(["backup", "--json"], 300_000);
    assert.equal(taken.code, 0, taken.stderr);
    const startedAt = Date.now() / 1000;
    await eventually(
      "Prometheus sees the backup",
      async () => (await prometheus.value("hapress_backups")) === 1,
      30_000,
    );
    const age = await prometheus.value("time() - hapress_backup_newest_timestamp_seconds");
    assert.ok(age !== null && age >= 0 && age < Date.now() / 1000 - startedAt + 600, `backup age ${age}`);
    assert.equal(await prometheus.value("hapress_backup_schedule_max_interval_seconds"), 366 * 86_400);
    // The archive follows the primary, holds everything it wrote, and has no hole.
    await eventually(
      "the archive running and caught up",
      async () =>
        (await prometheus.value("hapress_binlog_archive_running")) === 1 &&
        (await prometheus.value("hapress_binlog_archive_lag_bytes")) === 0,
      60_000,
    );
    assert.equal(await prometheus.value("hapress_binlog_archive_gaps"), 0);

    // Everything `status` shows of the site is in the supervisor's /metrics at the same moment.
    const now = await site.status();
    const text = await (await fetch(now.endpoints.metrics?.supervisor ?? "")).text();
    /** The value of one series of that scrape (`name` or `name{labels}`), or null. */
    const sample = (series: string) => {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? null : Number(line.split(" ").at(-1));
    };
    assert.equal(sample("hapress_site_ready"), now.ready ? 1 : 0);
    assert.equal(sample(`hapress_primary_epoch{primary="${now.primary}"}`), now.primaryEpoch);
    for (const pod of now.pods) {
      const labels = `pod="${pod.name}",component="${pod.component}"`;
      assert.equal(sample(`hapress_pod_ready{${labels}}`), pod.ready ? 1 : 0, pod.name);
      assert.equal(sample(`hapress_pod_restarts_total{${labels}}`), pod.restarts, pod.name);
      assert.equal(
        sample(`hapress_pod_info{${labels},role="${pod.role ?? "none"}",phase="${pod.phase}"}`),
        1,
        pod.name,
      );
      if (pod.connections)
        assert.equal(sample(`hapress_instance_max_connections{pod="${pod.name}"}`), pod.connections.limit);
    }
    const cache = now.pageCache;
    assert.ok(cache);
    assert.equal(sample('hapress_page_cache_requests_total{pod="wordpress-0",result="hit"}'), cache.hit);
    assert.equal(sample("hapress_page_cache_ttl_seconds"), cache.ttlSeconds);
    assert.equal(sample("hapress_binlog_archive_gaps"), now.backup?.gaps.length);
  });

  it("mysqld_exporter, when asked, reads every instance through an account that cannot read a table", async () => {
    const exporters = status.endpoints.metrics?.mysqld ?? [];
    assert.equal(exporters.length, 3);
    for (const url of exporters) assert.match(new URL(url).hostname, /^127\./);
    await eventually(
      "mysql_up 1 on the three exporters",
      async () => {
        const up = await prometheus.query('mysql_up{job="mysqld"}');
        return up.length === 3 && up.every((s) => s.value[1] === "1");
      },
      60_000,
    );
    // The replicas' exporters read the replication threads (SLAVE MONITOR).
    await eventually(
      "two replicas' I/O threads seen by the exporter",
      async () => (await prometheus.query("mysql_slave_status_slave_io_running == 1")).length === 2,
      60_000,
    );
    const secrets = site.secrets();
    const primary = (await site.status()).primary ?? "";
    const grants = spawnSync(
      "mariadb",
      [
        `--socket=${join(site.layout.mysqlRunDir(primary), "mysqld.sock")}`,
        `--user=${secrets.exporterUser}`,
        `--password=${secrets.exporterPassword}`,
        "--batch",
        "--skip-column-names",
        "--execute=SHOW GRANTS",
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(grants.status, 0, grants.stderr);
    assert.match(
      grants.stdout,
      /GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON \*\.\* TO `hapress_exporter`@`localhost`/,
    );
    assert.match(grants.stdout, /WITH MAX_USER_CONNECTIONS 3/);
    assert.doesNotMatch(grants.stdout, /SELECT|INSERT|UPDATE|DELETE|ALL PRIVILEGES/, grants.stdout);
  });

  it("the Grafana dashboard's every query is valid PromQL over series the site exposes", async () => {
    const dashboard = JSON.parse(
      readFileSync(join(repoRoot, "deploy", "grafana", "hapress-dashboard.json"), "utf8"),
    ) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const known = new Set(
      (
        (await (await fetch(`http://127.0.0.1:${prometheus.port}/api/v1/label/__name__/values`)).json()) as {
          data: string[];
        }
      ).data,
    );
    assert.ok(dashboard.panels.length >= 10);
    for (const panel of dashboard.panels)
      for (const { expr } of panel.targets) {
        const promql = expr.replaceAll("$__rate_interval", "1m").replaceAll("$job", ".*");
        const samples = await prometheus.query(promql);
        for (const name of promql.match(/\b(hapress|haproxy)_[a-z_]+/g) ?? [])
          assert.ok(known.has(name), `${panel.title}: ${name} is a series the site exposes`);
        assert.ok(Array.isArray(samples), panel.title);
      }
  });
});

describe("alert rules", () => {
  const rules = join(repoRoot, "deploy", "prometheus");

  it("promtool check rules passes and promtool test rules proves each alert fires when it should and only then", () => {
    for (const args of [
      ["check", "rules", "hapress-alerts.yml"],
      ["test", "rules", "hapress-alerts.test.yml"],
    ]) {
      const result = spawnSync("promtool", args, { cwd: rules, encoding: "utf8", timeout: 60_000 });
      assert.equal(result.status, 0, `promtool ${args.join(" ")}:\n${result.stdout}${result.stderr}`);
    }
    // Every alert of the file is tested, firing at least once.
    const alerts = [
      ...readFileSync(join(rules, "hapress-alerts.yml"), "utf8").matchAll(/- alert: (\w+)/g),
    ].map((m) => m[1]);
    const tests = readFileSync(join(rules, "hapress-alerts.test.yml"), "utf8");
    assert.ok(alerts.length >= 6, `alerts: ${alerts.join(", ")}`);
    for (const alert of alerts)
      assert.match(
        tests,
        new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n`),
        `${alert} is tested firing`,
      );
  });
});

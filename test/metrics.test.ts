import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SiteStatus } from "../src/platform/local/status.js";
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

  async start(targets: Record<string, string>): Promise<void> {
    const jobs = Object.entries(targets).map(([job, url]) => {
      const { host } = new URL(url);
      return `  - job_name: ${job}\n    static_configs:\n      - targets: ["${host}"]\n`;
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
    site = new TestSite(makeSiteDir("metrics"));
    await site.up();
    status = await site.status();
    const metrics = status.endpoints.metrics;
    if (!metrics) throw new Error("status names no metrics endpoints");
    prometheus = new TestPrometheus(promDir, await freePort());
    await prometheus.start({ controller: metrics.controller, haproxy: metrics.loadBalancer });
  });

  after(async () => {
    await prometheus?.stop();
    rmSync(promDir, { recursive: true, force: true });
    await site?.destroy();
  });

  it("serves the Prometheus text format with HELP and TYPE, on loopback, and status names it", async () => {
    const metrics = status.endpoints.metrics;
    assert.ok(metrics);
    for (const url of [metrics.controller, metrics.loadBalancer])
      assert.match(new URL(url).hostname, /^127\./, `${url} is a loopback address`);
    const text = await (await fetch(metrics.controller)).text();
    assert.match(text, /^# HELP hapress_failovers_total /m);
    assert.match(text, /^# TYPE hapress_failovers_total counter$/m);
    assert.match(text, /^# TYPE hapress_replication_lag_seconds gauge$/m);
    assert.match(text, /^# TYPE hapress_probe_duration_seconds histogram$/m);
    const printed = await site.cli(["status"]);
    assert.ok(printed.stdout.includes(metrics.controller), printed.stdout);
    assert.ok(printed.stdout.includes(metrics.loadBalancer), printed.stdout);
    const missing = await fetch(metrics.controller.replace("/metrics", "/other"));
    assert.equal(missing.status, 404);
  });

  it("kill -9 of the primary: the failover counter rises by exactly one, the primary changes, lag returns to 0", async () => {
    await eventually(
      "both targets up in Prometheus",
      async () => {
        const up = await prometheus.query("up");
        return up.length === 2 && up.every((s) => s.value[1] === "1");
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

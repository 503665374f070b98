// The Kubernetes figures on the real single-node cluster of scripts/test-cluster.sh (control plane,
// containerd, kubelet, kube-proxy, CoreDNS): `hapress apply` from nothing to a ready site (3 database
// instances, 2 WordPress pods), then the write outage a client writing through `mysql-primary` sees
// when the primary's mariadbd is killed from the node (`kill -9`) and when the primary pod is deleted.
// Needs root. Run: npm run bench:kube   (HAPRESS_BENCH_FAILOVER_RUNS=N, default 5)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify as stringifyYaml } from "yaml";
import { connectSql } from "../../src/mysql/client.js";
import { sleep } from "../../src/util/process.js";
import { runCli } from "../../test/helpers/site.js";
import { TestCluster } from "../../test/kube/cluster.js";
import { databaseSettled, recordedPrimary } from "../../test/kube/site-state.js";
import { countPresent, PageReader, Writer } from "../../test/kube/traffic.js";

const NAMESPACE = "bench";
const runs = Number(process.env.HAPRESS_BENCH_FAILOVER_RUNS ?? 5);

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

type Fault = "kill -9 of mariadbd" | "primary pod deleted";

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("needs root: the test cluster runs a kubelet and containerd");
  const dir = mkdtempSync("/tmp/hpb-kube-");
  const cluster = new TestCluster("/var/tmp/hapress-bench-cluster");
  let failed = true;
  try {
    const upStarted = Date.now();
    cluster.up();
    console.log(`cluster up (already built): ${((Date.now() - upStarted) / 1000).toFixed(1)} s`);
    const api = cluster.api;
    writeFileSync(
      join(dir, "hapress.yaml"),
      stringifyYaml({
        name: "bench",
        database: { replicas: 3 },
        wordpress: { replicas: 2 },
        kubernetes: {
          ...cluster.specFragment().kubernetes,
          namespace: NAMESPACE,
          resources: {
            mariadb: { cpu: "100m", memory: "512Mi" },
            wordpress: { cpu: "100m", memory: "256Mi" },
          },
        },
      }),
    );
    const applyStarted = Date.now();
    const applied = await runCli(["apply", "--timeout", "900"], {
      cwd: dir,
      env: { KUBECONFIG: cluster.kubeconfig },
      timeoutMs: 960_000,
    });
    if (applied.code !== 0) throw new Error(`apply failed:\n${applied.stdout}\n${applied.stderr}`);
    console.log(
      `hapress apply, nothing to a ready site (3 databases, 2 WordPress pods): ${((Date.now() - applyStarted) / 1000).toFixed(1)} s`,
    );
    const secrets = JSON.parse(readFileSync(join(dir, "hapress-secrets.json"), "utf8")) as {
      appPassword: string;
      adminPassword: string;
    };
    const admin = { user: "hapress_admin", password: secrets.adminPassword };
    const database = await cluster.serviceAddress(NAMESPACE, "mysql-primary");
    const reader = new PageReader(await cluster.serviceAddress(NAMESPACE, "wordpress"));
    reader.start();
    const results = new Map<Fault, { outageMs: number; acknowledged: number; lost: number }[]>();
    for (let run = 1; run <= runs; run++) {
      for (const fault of ["kill -9 of mariadbd", "primary pod deleted"] as const) {
        await until(
          "every replica streaming from the primary",
          () => databaseSettled(api, NAMESPACE, 3, admin),
          300_000,
        );
        const from = (await recordedPrimary(api, NAMESPACE))?.primary ?? "";
        const table = `bench_${run}_${fault === "primary pod deleted" ? "delete" : "kill"}`;
        const session = await connectSql(
          { host: database, port: 3306 },
          { user: "wordpress", password: secrets.appPassword },
          { database: "wordpress" },
        );
        await session.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
        await session.close();
        const writer = new Writer(database, table, secrets.appPassword);
        writer.start();
        await until("writes flowing", () => Promise.resolve(writer.acknowledgedCount >= 200), 60_000);
        const faultAt = Date.now();
        if (fault === "primary pod deleted")
          cluster.kubectl(["-n", NAMESPACE, "delete", "pod", from, "--wait=false"]);
        else process.kill(await cluster.containerPid(NAMESPACE, from, "mariadb"), "SIGKILL");
        let recordedAt = 0;
        await until(
          "a new primary recorded",
          async () => {
            const to = (await recordedPrimary(api, NAMESPACE))?.primary;
            recordedAt = Date.now();
            return Boolean(to && to !== from);
          },
          180_000,
        );
        // An acknowledgement after the new primary was seen closes the writer's outage.
        await until(
          "writes acknowledged by the new primary",
          () => Promise.resolve((writer.acknowledgedAt.at(-1) ?? 0) > recordedAt),
          60_000,
        );
        await sleep(1000);
        await writer.stop();
        const to = (await recordedPrimary(api, NAMESPACE))?.primary ?? "";
        const lost =
          writer.acknowledgedCount -
          (await countPresent(database, table, writer.acknowledged, secrets.appPassword));
        const outageMs = writer.longestGapAfter(faultAt - 1000);
        results.set(fault, [
          ...(results.get(fault) ?? []),
          { outageMs, acknowledged: writer.acknowledgedCount, lost },
        ]);
        console.log(
          `run ${run}, ${fault}: ${from} -> ${to}: outage ${(outageMs / 1000).toFixed(2)} s, ${writer.acknowledgedCount} acknowledged, ${lost} lost`,
        );
      }
    }
    await reader.stop();
    for (const [fault, list] of results) {
      const outages = list.map((r) => r.outageMs);
      console.log(
        `${fault}, real node: write outage median ${(median(outages) / 1000).toFixed(2)} s, max ${(Math.max(...outages) / 1000).toFixed(2)} s over ${list.length} runs; acknowledged writes lost ${list.reduce((n, r) => n + r.lost, 0)} of ${list.reduce((n, r) => n + r.acknowledged, 0)}`,
      );
    }
    console.log(
      `page reads through the wordpress Service meanwhile: ${reader.reads} served, ${reader.failures.length} failed`,
    );
    failed = false;
  } finally {
    await Promise.all([...Writer.running, ...PageReader.running].map((client) => client.stop()));
    cluster.down();
    // A failed run, or HAPRESS_KEEP_TEST_DIR=1, keeps the spec and secrets of the site.
    if (failed || process.env.HAPRESS_KEEP_TEST_DIR) console.log(`site folder kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

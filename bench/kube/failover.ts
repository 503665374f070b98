// The failover outage on the real Kubernetes control plane (the test harness: etcd, kube-apiserver,
// controller manager, scheduler built by scripts/build-control-plane.sh, and the test node playing the
// kubelet), beside the local target's figure from `npm run bench`. Needs root (network namespaces).
// Run: npm run bench:kube   (HAPRESS_BENCH_FAILOVER_RUNS=N, default 5)
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connectSql } from "../../src/mysql/client.js";
import { parseSpec } from "../../src/spec/load.js";
import { ADMIN_PORT } from "../../src/topology/topology.js";
import { renderManifests, ROLE_LABEL } from "../../src/platform/kubernetes/render.js";
import { parsePrimaryRecord, STATE_CONFIGMAP } from "../../src/platform/kubernetes/cluster-state.js";
import { sleep } from "../../src/util/process.js";
import { testSecrets } from "../../test/helpers/render-variants.js";
import type { KubeClient, KubeObject } from "../../test/kube/client.js";
import { ControlPlane } from "../../test/kube/control-plane.js";
import { TestNode } from "../../test/kube/test-node.js";
import { countPresent, endpointAddresses, Writer } from "../../test/kube/writer.js";

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

async function pod(api: KubeClient, name: string): Promise<KubeObject | null> {
  return api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${name}`).catch(() => null);
}

const isReady = (object: KubeObject | null) =>
  ((object?.status?.conditions ?? []) as { type: string; status: string }[]).some(
    (c) => c.type === "Ready" && c.status === "True",
  );

async function recordedPrimary(api: KubeClient): Promise<string | null> {
  const state = await api.get(`/api/v1/namespaces/${NAMESPACE}/configmaps/${STATE_CONFIGMAP}`);
  return parsePrimaryRecord((state as { data?: Record<string, string> }).data ?? {})?.primary ?? null;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("needs root: the test node makes network namespaces");
  const dir = mkdtempSync("/tmp/hpb-kube-");
  const plane = new ControlPlane(join(dir, "plane"));
  let node: TestNode | null = null;
  let failed = true;
  try {
    await plane.startAll();
    const api = plane.admin;
    node = new TestNode(api, join(dir, "node"), [NAMESPACE]);
    await node.start();
    const spec = parseSpec(
      {
        name: "bench",
        database: { replicas: 3 },
        wordpress: { replicas: 0 },
        kubernetes: { namespace: NAMESPACE },
      },
      "bench",
    );
    for (const object of renderManifests(spec, testSecrets)) await api.apply(object);
    // Settled as the controller sees it: every pod ready and labelled, and every replica streaming from
    // the primary. (Pod readiness alone is not enough: a run that crashes the primary while a replica
    // is still rejoining rightly finds no majority, and measures that instead of a failover.)
    const settled = async () => {
      const primary = await recordedPrimary(api);
      if (!primary) return false;
      const primaryIp = ((await pod(api, primary))?.status?.podIP as string | undefined) ?? "";
      for (const name of ["mysql-0", "mysql-1", "mysql-2"]) {
        const current = await pod(api, name);
        const role = current?.metadata.labels?.[ROLE_LABEL];
        if (!isReady(current) || role !== (name === primary ? "primary" : "replica")) return false;
        if (name === primary) continue;
        const session = await connectSql(
          { host: (current?.status?.podIP as string | undefined) ?? "", port: ADMIN_PORT },
          { user: "hapress_admin", password: testSecrets.adminPassword },
          { connectTimeoutMs: 1000, queryTimeoutMs: 2000 },
        );
        try {
          const [status] = await session.query("SHOW SLAVE STATUS");
          if (status?.Slave_IO_Running !== "Yes" || status.Master_Host !== primaryIp) return false;
        } finally {
          await session.close();
        }
      }
      return true;
    };
    await until("3 ready database pods and a labelled primary", settled, 300_000);
    const results: { outageMs: number; acknowledged: number; lost: number; from: string; to: string }[] = [];
    for (let run = 1; run <= runs; run++) {
      const from = (await recordedPrimary(api)) ?? "";
      const address = ((await pod(api, from))?.status?.podIP as string | undefined) ?? "";
      const table = `bench_${run}`;
      const writer = new Writer(api, NAMESPACE, table);
      const session = await connectSql(
        { host: address, port: 3306 },
        { user: "wordpress", password: testSecrets.appPassword },
        { database: "wordpress" },
      );
      await session.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
      await session.close();
      writer.start();
      await until("writes flowing", () => Promise.resolve(writer.acknowledged.length >= 200), 60_000);
      // Held down 20 s, as a kubelet's restart back-off may: the failover must not depend on it.
      node.crashContainer(from, "mariadb", 20_000);
      const crashedAt = Date.now();
      await until(
        "a new primary acknowledging writes",
        async () => {
          const to = await recordedPrimary(api);
          if (!to || to === from) return false;
          const routed = await endpointAddresses(api, NAMESPACE, "mysql-primary");
          const newIp = ((await pod(api, to))?.status?.podIP as string | undefined) ?? "";
          return (
            routed.length === 1 &&
            routed[0] === newIp &&
            (writer.acknowledgedAt.at(-1) ?? 0) > crashedAt + 100
          );
        },
        120_000,
      );
      await sleep(1000);
      await writer.stop();
      const to = (await recordedPrimary(api)) ?? "";
      const newIp = ((await pod(api, to))?.status?.podIP as string | undefined) ?? "";
      const lost = writer.acknowledged.length - (await countPresent(newIp, table, writer.acknowledged));
      const outageMs = writer.longestGapAfter(crashedAt - 1000);
      results.push({ outageMs, acknowledged: writer.acknowledged.length, lost, from, to });
      console.log(
        `run ${run}: ${from} -> ${to}: outage ${(outageMs / 1000).toFixed(2)} s, ${writer.acknowledged.length} acknowledged, ${lost} lost`,
      );
      await until("the old primary back as a ready replica", settled, 300_000);
    }
    const outages = results.map((r) => r.outageMs);
    console.log(
      `kill -9 of the primary's mariadbd on the Kubernetes control plane: outage median ${(median(outages) / 1000).toFixed(2)} s, max ${(Math.max(...outages) / 1000).toFixed(2)} s over ${results.length} runs; acknowledged writes lost ${results.reduce((n, r) => n + r.lost, 0)} of ${results.reduce((n, r) => n + r.acknowledged, 0)}`,
    );
    failed = false;
  } finally {
    await node?.stop();
    await plane.stop();
    // A failed run, or HAPRESS_KEEP_TEST_DIR=1, keeps every component's and pod's log.
    if (failed || process.env.HAPRESS_KEEP_TEST_DIR) console.log(`logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

// The rendered manifests on a real Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler built from k8s.io/kubernetes), with a test node playing the
// kubelet for the database pods. Run alone: node --import tsx --test test/kubernetes.test.ts
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InstanceSql } from "../src/controller/sql-actions.js";
import { connectSql } from "../src/mysql/client.js";
import { renderManifests, ROLE_LABEL } from "../src/platform/kubernetes/render.js";
import { CLONE_INFO_FILE } from "../src/agent/clone.js";
import { parseSpec } from "../src/spec/load.js";
import { ADMIN_PORT } from "../src/topology/topology.js";
import type { Secrets } from "../src/state/secrets.js";
import { KubeApiError, type KubeClient, type KubeObject } from "./kube/client.js";
import { ControlPlane } from "./kube/control-plane.js";
import { TestNode } from "./kube/test-node.js";
import { renderVariants, testSecrets } from "./helpers/render-variants.js";
import { eventually, makeSiteDir } from "./helpers/site.js";

const isRoot = process.getuid?.() === 0;
const NAMESPACE = "db";
const DB_SPEC = {
  name: "kube",
  database: { replicas: 3 },
  wordpress: { replicas: 0 },
  kubernetes: { namespace: NAMESPACE },
};

/** The database users as the rendered Secret names them, for SQL from the test. */
const secrets: Secrets = {
  replicationUser: "repl",
  replicationPassword: testSecrets.replicationPassword,
  adminUser: "hapress_admin",
  adminPassword: testSecrets.adminPassword,
  appUser: "wordpress",
  appPassword: testSecrets.appPassword,
  appDatabase: "wordpress",
  cloneToken: testSecrets.cloneToken,
  wordpressAdminPassword: testSecrets.wordpressAdminPassword,
  wordpressKeys: testSecrets.wordpressKeys,
};

function render(input: object): KubeObject[] {
  return renderManifests(parseSpec(input, "test"), testSecrets);
}

async function pod(api: KubeClient, name: string): Promise<KubeObject | null> {
  try {
    return await api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${name}`);
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 404) return null;
    throw error;
  }
}

function isReady(object: KubeObject | null): boolean {
  const conditions = (object?.status?.conditions ?? []) as { type: string; status: string }[];
  return conditions.some((c) => c.type === "Ready" && c.status === "True");
}

function podIp(object: KubeObject | null): string {
  const ip = object?.status?.podIP;
  return typeof ip === "string" ? ip : "";
}

async function gtid(address: string): Promise<string> {
  const session = await connectSql(
    // The admin port (extra_port) of the rendered configuration, as the controller will use it.
    { host: address, port: ADMIN_PORT },
    { user: secrets.adminUser, password: secrets.adminPassword },
    { connectTimeoutMs: 2000, queryTimeoutMs: 5000 },
  );
  try {
    const [row] = await session.query("SELECT @@global.gtid_current_pos AS pos");
    return typeof row?.pos === "string" ? row.pos : "";
  } finally {
    await session.close();
  }
}

async function endpointAddresses(api: KubeClient, service: string): Promise<string[]> {
  const slices = await api.list(
    `/apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${service}`,
  );
  return slices
    .flatMap(
      (s) =>
        (s as { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }).endpoints ?? [],
    )
    .filter((e) => e.conditions?.ready === true)
    .flatMap((e) => e.addresses)
    .sort();
}

describe(
  "the rendered manifests on a real Kubernetes control plane",
  { skip: !isRoot && "needs root: the test node makes network namespaces" },
  () => {
    const dir = makeSiteDir("kube");
    const plane = new ControlPlane(join(dir, "plane"));
    let node: TestNode | null = null;
    let api: KubeClient;

    before(async () => {
      await plane.startAll();
      api = plane.admin;
      node = new TestNode(api, join(dir, "node"), [NAMESPACE]);
      await node.start();
    });

    after(async () => {
      await node?.stop();
      await plane.stop();
      // HAPRESS_KEEP_TEST_DIR=1 keeps the logs of every component and pod for a look after a failure.
      if (!process.env.HAPRESS_KEEP_TEST_DIR) rmSync(dir, { recursive: true, force: true });
    });

    it("accepts every rendered object of every spec variant: server-side apply, dry run then for real", async () => {
      let index = 0;
      for (const [label, input] of Object.entries(renderVariants)) {
        // Each variant in a namespace of its own (unless it names one): they are different sites.
        const kubernetes = { namespace: `variant-${++index}`, ...(input.kubernetes ?? {}) };
        const objects = render({ ...input, kubernetes });
        // The namespace must exist before a dry run of what lives in it can be admitted.
        const [namespace, ...rest] = objects;
        assert.equal(namespace?.kind, "Namespace");
        await api.apply(namespace, { dryRun: true });
        await api.apply(namespace);
        for (const object of rest) {
          await assert.doesNotReject(
            api.apply(object, { dryRun: true }),
            `${label}: dry run of ${object.kind}/${object.metadata.name}`,
          );
        }
        for (const object of rest) {
          const applied = await api.apply(object);
          assert.ok(applied.metadata.uid, `${label}: ${object.kind}/${object.metadata.name} stored`);
        }
      }
      // Defaulting by the real server: the StatefulSet keeps what we asked and gains the server's defaults.
      const sts = await api.get("/apis/apps/v1/namespaces/shop/statefulsets/mysql");
      assert.equal((sts.spec as { podManagementPolicy?: string }).podManagementPolicy, "OrderedReady");
      assert.ok(
        (sts.spec as { revisionHistoryLimit?: number }).revisionHistoryLimit !== undefined,
        "defaulted by the server",
      );
    });

    it("runs the database StatefulSet: pods ready in order, replicas cloned from the primary, GTIDs converge", async () => {
      for (const object of render(DB_SPEC)) await api.apply(object);

      // OrderedReady: whenever mysql-1 exists, mysql-0 is already ready.
      let sawOrderViolation = false;
      await eventually(
        "mysql-0 ready",
        async () => {
          const [zero, one] = [await pod(api, "mysql-0"), await pod(api, "mysql-1")];
          if (one && !isReady(zero)) sawOrderViolation = true;
          return isReady(zero);
        },
        240_000,
      ).catch((error: unknown) => {
        throw new Error(
          `mysql-0 never became ready; node errors: ${node?.errors.slice(-3).join(" | ")}\ninit: ${node?.logOf("mysql-0", "init")}\nmariadb: ${node?.logOf("mysql-0", "mariadb")}`,
          { cause: error },
        );
      });
      assert.equal(sawOrderViolation, false, "mysql-1 existed before mysql-0 was ready");

      // The test stands in for the controller (a separate piece): it names mysql-0 the primary.
      const zero = await pod(api, "mysql-0");
      const primaryIp = podIp(zero);
      const sql = new InstanceSql(secrets);
      const instance = (name: string, address: string) => ({
        name,
        ordinal: Number(name.slice(-1)),
        address,
        port: 3306,
        adminPort: ADMIN_PORT,
        provisioning: false,
      });
      await sql.promote(instance("mysql-0", primaryIp), false);
      await api.mergePatch(`/api/v1/namespaces/${NAMESPACE}/pods/mysql-0`, {
        metadata: { labels: { [ROLE_LABEL]: "primary" } },
      });

      for (const name of ["mysql-1", "mysql-2"]) {
        await eventually(
          `${name} ready (cloned from the primary's agent through mysql-primary)`,
          async () => {
            const [previous, current] = [
              await pod(api, `mysql-${Number(name.slice(-1)) - 1}`),
              await pod(api, name),
            ];
            if (current && !isReady(previous)) sawOrderViolation = true;
            return isReady(current);
          },
          240_000,
        ).catch((error: unknown) => {
          throw new Error(`${name} never became ready; init log:\n${node?.logOf(name, "init")}`, {
            cause: error,
          });
        });
        assert.match(node?.logOf(name, "init") ?? "", /cloned .* MB from mysql-primary/);
        // Point the clone at the primary from the backup's GTID (the controller's job in the cluster).
        const dataDir = node?.volumePath(name, "data") ?? "";
        const info = JSON.parse(readFileSync(join(dataDir, "mysql", CLONE_INFO_FILE), "utf8")) as {
          gtid: string;
        };
        const address = podIp(await pod(api, name));
        await sql.run(instance(name, address), ["STOP SLAVE", `SET GLOBAL gtid_slave_pos = '${info.gtid}'`]);
        await sql.repoint(instance(name, address), instance("mysql-0", primaryIp), "slave_pos");
      }
      assert.equal(sawOrderViolation, false, "a pod was created before its predecessor was ready");

      const app = await connectSql(
        { host: primaryIp, port: 3306 },
        { user: "wordpress", password: testSecrets.appPassword },
        { database: "wordpress" },
      );
      try {
        await app.query("CREATE TABLE IF NOT EXISTS rows_k8s (id INT PRIMARY KEY)");
        for (let i = 1; i <= 50; i++) await app.query("INSERT INTO rows_k8s VALUES (?)", [i]);
      } finally {
        await app.close();
      }
      const addresses = await Promise.all(
        ["mysql-0", "mysql-1", "mysql-2"].map(async (n) => podIp(await pod(api, n))),
      );
      await eventually("equal GTID positions on the 3 pods", async () => {
        const positions = await Promise.all(addresses.map(gtid));
        return positions[0] !== "" && positions.every((p) => p === positions[0]);
      });
    });

    it("gives each Service an EndpointSlice that lists exactly the ready pods its selector matches", async () => {
      const ips = Object.fromEntries(
        await Promise.all(
          ["mysql-0", "mysql-1", "mysql-2"].map(async (n) => [n, podIp(await pod(api, n))] as const),
        ),
      );
      await eventually("EndpointSlices matching the pods", async () => {
        const [all, primary, replicas] = await Promise.all([
          endpointAddresses(api, "mysql"),
          endpointAddresses(api, "mysql-primary"),
          endpointAddresses(api, "mysql-replicas"),
        ]);
        return (
          JSON.stringify(all) === JSON.stringify([ips["mysql-0"], ips["mysql-1"], ips["mysql-2"]].sort()) &&
          JSON.stringify(primary) === JSON.stringify([ips["mysql-0"]]) &&
          JSON.stringify(replicas) === JSON.stringify([ips["mysql-1"], ips["mysql-2"]].sort())
        );
      });
    });

    it("restarts a replica's mariadbd killed with SIGKILL (restartPolicy); it becomes ready and catches up", async () => {
      const pid = node?.containerPid("mysql-1", "mariadb");
      assert.ok(pid, "mysql-1's mariadbd runs");
      process.kill(pid, "SIGKILL");
      await eventually(
        "mysql-1 restarted once and ready",
        async () => {
          const current = await pod(api, "mysql-1");
          const statuses = (current?.status?.containerStatuses ?? []) as {
            name: string;
            restartCount: number;
          }[];
          return isReady(current) && statuses.find((s) => s.name === "mariadb")?.restartCount === 1;
        },
        120_000,
      );
      const primaryIp = podIp(await pod(api, "mysql-0"));
      const app = await connectSql(
        { host: primaryIp, port: 3306 },
        { user: "wordpress", password: testSecrets.appPassword },
        { database: "wordpress" },
      );
      try {
        for (let i = 51; i <= 60; i++) await app.query("INSERT INTO rows_k8s VALUES (?)", [i]);
      } finally {
        await app.close();
      }
      const replicaIp = podIp(await pod(api, "mysql-1"));
      await eventually(
        "mysql-1 caught up with the primary",
        async () => (await gtid(replicaIp)) === (await gtid(primaryIp)),
      );
    });

    it("lets the rendered ServiceAccount do what the controller needs, and nothing else", async () => {
      const request = await api.call<{ status: { token: string } }>(
        "POST",
        `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/hapress-controller/token`,
        { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } },
      );
      const controller = api.as({ token: request.status.token });
      const can = async (verb: string, resource: string, extra: Record<string, string> = {}) => {
        const review = await controller.call<{ status: { allowed: boolean } }>(
          "POST",
          "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
          {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SelfSubjectAccessReview",
            spec: { resourceAttributes: { namespace: NAMESPACE, verb, resource, ...extra } },
          },
        );
        return review.status.allowed;
      };
      // Allowed, and really done: list pods, move a role label, hold a Lease, record an Event.
      const pods = await controller.list(`/api/v1/namespaces/${NAMESPACE}/pods`);
      assert.ok(pods.length >= 3);
      await controller.mergePatch(`/api/v1/namespaces/${NAMESPACE}/pods/mysql-2`, {
        metadata: { labels: { [ROLE_LABEL]: "replica" } },
      });
      await controller.call("POST", `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases`, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "rbac-check" },
        spec: { holderIdentity: "test", leaseDurationSeconds: 15 },
      });
      await controller.call("POST", `/api/v1/namespaces/${NAMESPACE}/events`, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: "rbac-check" },
        involvedObject: { kind: "Pod", name: "mysql-2", namespace: NAMESPACE },
        reason: "Check",
        message: "RBAC check",
        type: "Normal",
      });
      assert.equal(await can("delete", "pods", { name: "mysql-2" }), true, "fencing a database pod");
      // Refused: other pods, Secrets here or elsewhere, anything cluster-wide.
      await assert.rejects(
        controller.call("DELETE", `/api/v1/namespaces/${NAMESPACE}/pods/wordpress-5d8f7-abcde`),
        (e: unknown) => e instanceof KubeApiError && e.status === 403,
      );
      await assert.rejects(
        controller.get(`/api/v1/namespaces/${NAMESPACE}/secrets`),
        (e: unknown) => e instanceof KubeApiError && e.status === 403,
      );
      await assert.rejects(
        controller.get("/api/v1/namespaces/default/secrets"),
        (e: unknown) => e instanceof KubeApiError && e.status === 403,
      );
      await assert.rejects(
        controller.get("/api/v1/nodes"),
        (e: unknown) => e instanceof KubeApiError && e.status === 403,
      );
      assert.equal(await can("create", "pods"), false);
      assert.equal(await can("update", "statefulsets"), false);
    });

    it("keeps every control-plane component running", () => {
      assert.deepEqual(plane.exited(), []);
    });
  },
);

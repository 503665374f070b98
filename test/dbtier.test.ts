import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runProgram } from "../src/util/process.js";
import { openWatchChannel, serverWatchKey } from "../src/agent/clone-channel.js";
import { decodeReport } from "../src/agent/server-watch.js";
import { AGENT_PORT } from "../src/topology/topology.js";
import { renderManifests } from "../src/platform/kubernetes/render.js";
import { parseSpec } from "../src/spec/load.js";
import type { ClusterSecrets } from "../src/platform/kubernetes/secrets.js";

const testClusterSecrets: ClusterSecrets = {
  rootPassword: "r",
  replicationPassword: "r",
  adminPassword: "a",
  appPassword: "p",
  backupPassword: "b",
  cloneToken: "t",
  wordpressAdminPassword: "w",
  wordpressKeys: {
    AUTH_KEY: "1",
    SECURE_AUTH_KEY: "2",
    LOGGED_IN_KEY: "3",
    NONCE_KEY: "4",
    AUTH_SALT: "5",
    SECURE_AUTH_SALT: "6",
    LOGGED_IN_SALT: "7",
    NONCE_SALT: "8",
  },
};
import { describeProcesses, eventually, makeSiteDir, processesMentioning, TestSite } from "./helpers/site.js";

const MYSQL_READ_ONLY = 1290;

function sqlErrorNumber(error: unknown): number | undefined {
  return (error as { errno?: number }).errno;
}

describe("database tier with 3 instances (real mariadbd)", () => {
  const site = new TestSite(makeSiteDir("db"));

  before(async () => {
    await site.up();
  });

  after(async () => {
    const result = await site.cli(["down", "--volumes", "--yes"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(existsSync(site.stateDir), false, "down --volumes removes the state folder");
    await site.destroy();
  });

  it("reports the status contract", async () => {
    const status = await site.status();
    assert.equal(status.site, "hapress");
    assert.equal(status.stateDir, site.stateDir);
    assert.equal(status.primary, "mysql-0");
    assert.equal(status.ready, true);
    assert.match(status.endpoints.mysqlPrimary, /^127\.\d+\.\d+\.2:3306$/);
    assert.match(status.endpoints.mysqlReplicas, /^127\.\d+\.\d+\.3:3306$/);
    const mysql = status.pods.filter((p) => p.component === "mysql");
    assert.deepEqual(
      mysql.map((p) => [p.name, p.role, p.ready]),
      [
        ["mysql-0", "primary", true],
        ["mysql-1", "replica", true],
        ["mysql-2", "replica", true],
      ],
    );
    for (const pod of mysql) {
      assert.match(pod.address, /^127\./);
      assert.equal(pod.pids.length, 2, "mariadbd and its agent");
      assert.equal(typeof pod.restarts, "number");
      assert.equal(pod.semiSync, true, `${pod.name} semi-sync`);
    }
    assert.equal(status.database.semiSync, "on");
    const withSecrets = await site.cli(["status", "--json", "--show-secrets"]);
    const credentials = (
      JSON.parse(withSecrets.stdout) as { credentials: { app: { user: string; password: string } } }
    ).credentials;
    assert.equal(credentials.app.user, "wordpress");
    assert.ok(credentials.app.password.length >= 24, "generated, non-empty password");
    assert.equal(statSync(join(site.stateDir, "secrets.json")).mode & 0o777, 0o600);
    assert.equal(statSync(join(site.stateDir, "supervisor.sock")).mode & 0o777, 0o600);
    const human = await site.cli(["status"]);
    assert.match(human.stdout, /mysql-1\s+replica/);
  });

  it("replicates a write through mysql-primary to both replicas with equal GTIDs", async () => {
    const status = await site.status();
    await site.sqlAsApp(status.endpoints.mysqlPrimary, "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)");
    await site.sqlAsApp(status.endpoints.mysqlPrimary, "INSERT INTO notes VALUES (1, 'hello')");
    // Semi-sync means one replica received it before the commit returned; each applies it soon after.
    for (const replica of ["mysql-1", "mysql-2"]) {
      const address = await site.podAddress(replica);
      await eventually(`${replica} has the row`, async () => {
        const rows = await site.sqlAsApp(address, "SELECT body FROM notes WHERE id = 1");
        return rows[0]?.body === "hello";
      });
    }
    await eventually("equal GTID positions", async () => {
      const gtids = (await site.status()).pods.filter((p) => p.component === "mysql").map((p) => p.gtid);
      return gtids.every((g) => g && g === gtids[0]);
    });
  });

  it("runs the in-cluster init step: clones from a live agent, and only ordinal 0 of an empty site bootstraps", async () => {
    const k8s = join(site.workDir, "k8s");
    const configMapDir = join(k8s, "config-map");
    mkdirSync(configMapDir, { recursive: true });
    const configMap = renderManifests(parseSpec({}, "test"), testClusterSecrets).find(
      (o) => o.metadata.name === "mysql" && o.kind === "ConfigMap",
    );
    for (const [name, text] of Object.entries((configMap?.data ?? {}) as Record<string, string>))
      writeFileSync(join(configMapDir, name), text);
    const donor = (await site.podAddress("mysql-0")).split(":")[0] ?? "";
    const env = { HAPRESS_CLONE_TOKEN: site.secrets().cloneToken };
    // The mounted hapress-state ConfigMap of an empty site: no primary recorded yet.
    const stateDir = join(k8s, "state");
    mkdirSync(stateDir, { recursive: true });
    const placement = ["--state-dir", stateDir, "--peer-domain", "mysql.test.svc"];
    const init = (hostname: string, donorHost: string, dir: string) =>
      site.cli(
        [
          "agent",
          "init",
          "--hostname",
          hostname,
          "--data-dir",
          join(dir, "mysql"),
          "--conf-dir",
          join(dir, "conf"),
          "--config-map-dir",
          configMapDir,
          ...placement,
          "--donor",
          donorHost,
        ],
        120_000,
        env,
      );
    const cloned = await init("mysql-7", donor, join(k8s, "seven"));
    assert.equal(cloned.code, 0, cloned.stderr);
    assert.match(cloned.stdout, /cloned/);
    assert.match(readFileSync(join(k8s, "seven", "conf", "server-id.cnf"), "utf8"), /server-id=107/);
    assert.ok(
      existsSync(join(k8s, "seven", "mysql", "mysql", "user.MAI")) ||
        existsSync(join(k8s, "seven", "mysql", "mysql", "global_priv.MAI")),
      "a prepared copy of the donor's data",
    );
    assert.ok(existsSync(join(k8s, "seven", "conf", "replica.cnf")));
    const refused = await site.cli(
      [
        "agent",
        "init",
        "--hostname",
        "mysql-8",
        "--data-dir",
        join(k8s, "eight", "mysql"),
        "--conf-dir",
        join(k8s, "eight", "conf"),
        "--config-map-dir",
        configMapDir,
        ...placement,
        "--donor",
        donor,
      ],
      60_000,
      { HAPRESS_CLONE_TOKEN: "wrong" },
    );
    assert.equal(refused.code, 1, "a wrong clone token gets nothing");
    assert.match(refused.stderr, /does not hold this site's clone token/);
    assert.equal(existsSync(join(k8s, "eight", "mysql")), false, "no half-made data folder");
    const bootstrap = await init("mysql-0", "127.0.0.1", join(k8s, "zero"));
    assert.equal(bootstrap.code, 0, bootstrap.stderr);
    assert.match(bootstrap.stdout, /bootstrap/);
    assert.ok(existsSync(join(k8s, "zero", "conf", "primary.cnf")));
    const orphan = await init("mysql-3", "127.0.0.1", join(k8s, "three"));
    assert.equal(orphan.code, 1, "a replica with no donor fails (and its init container is retried)");
  });

  it("refuses writes on replicas, even for the operator's socket account (root, or the user running the site)", async () => {
    const status = await site.status();
    await assert.rejects(
      site.sqlAsApp(await site.podAddress("mysql-1"), "INSERT INTO notes VALUES (2, 'no')"),
      (error) => sqlErrorNumber(error) === MYSQL_READ_ONLY,
    );
    await assert.rejects(
      site.sqlAsApp(status.endpoints.mysqlReplicas, "INSERT INTO notes VALUES (3, 'no')"),
      (error) => sqlErrorNumber(error) === MYSQL_READ_ONLY,
    );
    const socket = join(site.layout.mysqlRunDir("mysql-2"), "mysqld.sock");
    // Socket authentication: root when root runs the site, otherwise the user who does.
    const operator = await runProgram("mariadb", [
      "--socket",
      socket,
      `-u${userInfo().username}`,
      "wordpress",
      "-e",
      "INSERT INTO notes VALUES (4, 'no')",
    ]);
    assert.notEqual(operator.code, 0);
    assert.match(operator.stderr, /read-only/);
  });

  it("gives the app user its database only, and no root over TCP", async () => {
    const primary = (await site.status()).endpoints.mysqlPrimary;
    await assert.rejects(site.sqlAsApp(primary, "CREATE DATABASE other"), /denied/);
    await assert.rejects(site.sqlAsApp(primary, "SELECT * FROM mysql.user"), /denied/);
    const [host, port] = primary.split(":");
    const rootTcp = await runProgram("mariadb", [
      "-h",
      host ?? "",
      "-P",
      port ?? "",
      "-uroot",
      "-e",
      "SELECT 1",
    ]);
    assert.notEqual(rootTcp.code, 0, "root has no TCP account");
  });

  it("restarts a replica's mariadbd killed with SIGKILL; it catches up with restart count 1; its agent reports the exit at once", async () => {
    const before = (await site.status()).pods.find((p) => p.name === "mysql-2");
    assert.ok(before?.pids[0]);
    // The agent's server watch (what the controller follows on Kubernetes), over the real server.
    const reports: string[] = [];
    const watch = openWatchChannel(
      before.address.split(":")[0] ?? "",
      AGENT_PORT,
      serverWatchKey(site.secrets().cloneToken),
    );
    watch.on("secureConnect", () => watch.write("HAPRESS-WATCH 1\n"));
    watch.on("data", (chunk: Buffer) => reports.push(...chunk.toString().split("\n").filter(Boolean)));
    watch.on("error", () => undefined);
    try {
      await eventually("the agent reports its server up", () =>
        Promise.resolve(reports.some((line) => line.startsWith("up "))),
      ).catch((error: unknown) => {
        const log = readFileSync(join(site.stateDir, "logs", "mysql-2.log"), "utf8")
          .split("\n")
          .slice(-15);
        throw new Error(`reports: ${reports.join(" | ") || "none"}\nmysql-2's log:\n${log.join("\n")}`, {
          cause: error,
        });
      });
      const killedAt = Date.now();
      process.kill(before.pids[0], "SIGKILL");
      await eventually("the agent reports the exit", () =>
        Promise.resolve(reports.some((line) => line.startsWith("exited "))),
      );
      const exited = decodeReport(reports.find((line) => line.startsWith("exited ")) ?? "");
      assert.ok(exited, reports.join("\n"));
      assert.ok(
        Date.parse(exited.at) - killedAt < 5_000,
        `learnt ${Date.parse(exited.at) - killedAt} ms after the kill (a watch, not a poll)`,
      );
      assert.match(exited.detail, /refuses connections/);
      await eventually("the agent reports the restarted server up", () =>
        Promise.resolve(reports.filter((line) => line.startsWith("up ")).length >= 2),
      );
    } finally {
      watch.destroy();
    }
    const primary = (await site.status()).endpoints.mysqlPrimary;
    await site.sqlAsApp(primary, "INSERT INTO notes VALUES (10, 'while mysql-2 was down')");
    await eventually(
      "mysql-2 back and caught up",
      async () => {
        const pod = (await site.status()).pods.find((p) => p.name === "mysql-2");
        if (!pod?.ready || pod.restarts !== 1) return false;
        const rows = await site.sqlAsApp(
          `${pod.address}:3306`,
          "SELECT COUNT(*) AS n FROM notes WHERE id = 10",
        );
        return Number(rows[0]?.n) === 1;
      },
      90_000,
    );
    const after = (await site.status()).pods.find((p) => p.name === "mysql-2");
    assert.notEqual(after?.pids[0], before.pids[0]);
    assert.equal(after?.restarts, 1);
  });

  it("scales 3 -> 1 -> 3 keeping the data; new replicas are cloned afresh with all 10,000 rows", async () => {
    const down = await site.cli(["scale", "mysql", "1"]);
    assert.equal(down.code, 0, down.stderr);
    const single = await site.status();
    assert.deepEqual(
      single.pods.filter((p) => p.component === "mysql").map((p) => p.name),
      ["mysql-0"],
    );
    assert.equal(existsSync(site.layout.podServiceDir("mysql-1")), false, "removed replica's data is gone");
    assert.equal(existsSync(join(site.stateDir, "pods", "mysql-1")), false, "and its configuration");
    assert.equal(single.database.semiSync, "off");
    assert.match(single.database.semiSyncDetail, /single instance/);

    const primary = single.endpoints.mysqlPrimary;
    await site.sqlAsApp(primary, "CREATE TABLE bulk (id INT PRIMARY KEY, payload VARCHAR(100))");
    for (let batch = 0; batch < 10; batch++) {
      const values = Array.from({ length: 1000 }, (_, i) => `(${batch * 1000 + i}, REPEAT('x', 80))`).join(
        ",",
      );
      await site.sqlAsApp(primary, `INSERT INTO bulk VALUES ${values}`);
    }

    const up = await site.cli(["scale", "mysql", "3"]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /\[mysql-1\] cloning from mysql-0/);
    // From a streaming replica when one is ready (the primary's commits are not held), else the primary.
    assert.match(up.stderr, /\[mysql-2\] cloning from mysql-[01] /);
    const checksums: string[] = [];
    for (const pod of ["mysql-0", "mysql-1", "mysql-2"]) {
      const address = await site.podAddress(pod);
      const [count] = await site.sqlAsApp(address, "SELECT COUNT(*) AS n FROM bulk");
      assert.equal(Number(count?.n), 10_000, `${pod} has every row`);
      const [checksum] = await site.sqlAsApp(address, "CHECKSUM TABLE bulk");
      checksums.push(String(checksum?.Checksum));
    }
    assert.equal(new Set(checksums).size, 1, `checksums equal: ${checksums.join(", ")}`);
    const [notes] = await site.sqlAsApp(await site.podAddress("mysql-2"), "SELECT COUNT(*) AS n FROM notes");
    assert.equal(Number(notes?.n), 2, "earlier rows were cloned too");
  });

  it("keeps all data across down and up", async () => {
    const down = await site.cli(["down"]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(describeProcesses(processesMentioning(site.workDir)), [], "down stops every process");
    const stopped = await site.status();
    assert.equal(stopped.running, false);
    await site.up();
    const status = await site.status();
    assert.equal(status.primary, "mysql-0");
    for (const pod of ["mysql-0", "mysql-1", "mysql-2"]) {
      const [count] = await site.sqlAsApp(await site.podAddress(pod), "SELECT COUNT(*) AS n FROM bulk");
      assert.equal(Number(count?.n), 10_000, `${pod} kept its rows`);
    }
    await site.sqlAsApp(status.endpoints.mysqlPrimary, "INSERT INTO notes VALUES (20, 'after restart')");
    const mysql1 = await site.podAddress("mysql-1");
    await eventually("mysql-1 has the row written after the restart", async () => {
      const rows = await site.sqlAsApp(mysql1, "SELECT body FROM notes WHERE id = 20");
      return rows[0]?.body === "after restart";
    });
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderBootstrapSql, renderServerConfig, serverId, sqlString } from "./config.js";

const secrets = {
  replicationUser: "repl",
  replicationPassword: "r'pw",
  adminUser: "hapress_admin",
  adminPassword: "apw",
  appUser: "wordpress",
  appPassword: "wpw",
  appDatabase: "wordpress",
  backupUser: "hapress_backup",
  backupPassword: "backupPasswordForTests01",
  exporterUser: "hapress_exporter",
  exporterPassword: "exporterPasswordForTests1",
  cloneToken: "t",
  wordpressAdminPassword: "w",
  wordpressKeys: {},
};

describe("server config", () => {
  const config = renderServerConfig({
    ordinal: 2,
    address: "127.8.8.12",
    port: 3306,
    dataDir: "/d",
    socket: "/s",
    pidFile: "/p",
    errorLog: "/e",
    bufferPoolMB: 64,
    semiSyncTimeoutMs: 30000,
    maxConnections: 150,
    runAs: "mysql",
  });
  it("gives clients max_connections and the controller an admin port with slots of its own", () => {
    assert.match(config, /^max-connections=150$/m);
    assert.match(config, /^extra-port=3308$/m);
    assert.match(config, /^extra-max-connections=\d+$/m);
  });
  it("derives server-id from the ordinal, offset by 100", () => {
    assert.equal(serverId(2), 102);
    assert.match(config, /^server-id=102$/m);
  });
  it("binds the pod's loopback address and starts read-only (fenced)", () => {
    assert.match(config, /^bind-address=127\.8\.8\.12$/m);
    assert.match(config, /^read-only=ON$/m);
  });
  it("enables GTID binlogs on every instance and semi-sync AFTER_SYNC", () => {
    for (const line of [
      "log-bin=mysql-bin",
      "log-slave-updates=ON",
      "gtid-strict-mode=ON",
      "rpl-semi-sync-master-wait-point=AFTER_SYNC",
      "rpl-semi-sync-slave-enabled=ON",
      "rpl-semi-sync-master-timeout=30000",
    ]) {
      assert.ok(config.split("\n").includes(line), `missing ${line}`);
    }
  });
});

describe("bootstrap SQL", () => {
  const sql = renderBootstrapSql(secrets);
  it("escapes passwords", () => {
    assert.equal(sqlString("r'pw"), "'r\\'pw'");
    assert.ok(sql.includes("IDENTIFIED BY 'r\\'pw'"));
  });
  it("drops TCP and anonymous root accounts and takes READ_ONLY ADMIN from root", () => {
    assert.match(
      sql,
      /DELETE FROM mysql\.global_priv WHERE User = '' OR \(User = 'root' AND Host <> 'localhost'\)/,
    );
    assert.match(sql, /REVOKE READ_ONLY ADMIN ON \*\.\* FROM 'root'@'localhost'/);
  });
  it("limits the app user to its database and users to loopback", () => {
    assert.match(sql, /GRANT ALL PRIVILEGES ON `wordpress`\.\* TO 'wordpress'@'127\.%'/);
    assert.doesNotMatch(sql, /ON \*\.\* TO 'wordpress'/);
    assert.match(sql, /GRANT REPLICATION SLAVE ON \*\.\* TO 'repl'@'127\.%'/);
  });
  it("gives backups an account of their own, through the socket only, with the backup privileges only", () => {
    assert.match(sql, /CREATE USER 'hapress_backup'@'localhost' IDENTIFIED BY 'backupPasswordForTests01'/);
    assert.match(
      sql,
      /GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON \*\.\* TO 'hapress_backup'@'localhost';/,
    );
  });
  it("gives mysqld_exporter an account that reads the server's state, never a table, three sessions at most", () => {
    assert.match(
      sql,
      /CREATE USER 'hapress_exporter'@'localhost' IDENTIFIED BY 'exporterPasswordForTests1' WITH MAX_USER_CONNECTIONS 3;/,
    );
    assert.match(
      sql,
      /GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON \*\.\* TO 'hapress_exporter'@'localhost';/,
    );
    assert.doesNotMatch(sql, /GRANT[^;]*SELECT[^;]*TO 'hapress_exporter'/);
  });
  it("takes READ_ONLY ADMIN from the operating-system user's socket account too", () => {
    const asUser = renderBootstrapSql(secrets, "alice");
    assert.match(asUser, /REVOKE READ_ONLY ADMIN ON \*\.\* FROM 'root'@'localhost'/);
    assert.match(asUser, /REVOKE READ_ONLY ADMIN ON \*\.\* FROM 'alice'@'localhost'/);
  });
});

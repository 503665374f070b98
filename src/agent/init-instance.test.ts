import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { initInstance, RECLONE_DONE_FILE } from "./init-instance.js";

describe("agent init: what a database pod does before its server starts", () => {
  let dir: string;
  const options = (hostname: string) => ({
    hostname,
    dataDir: join(dir, "volume", "mysql"),
    confDir: join(dir, "conf"),
    configMapDir: join(dir, "config-map"),
    stateDir: join(dir, "state"),
    peerDomain: "mysql.test.svc",
    donorPort: 3307,
    token: "cloneTokenForTests000001",
    log: () => undefined,
  });
  const record = (primary: string) =>
    writeFileSync(
      join(dir, "state", "primary"),
      JSON.stringify({ primary, epoch: 2, changedAt: new Date().toISOString(), reason: "test" }),
    );

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "hapress-init-"));
    for (const sub of ["config-map", "state", "volume"]) mkdirSync(join(dir, sub));
    for (const file of ["common.cnf", "primary.cnf", "replica.cnf"])
      writeFileSync(join(dir, "config-map", file), `# ${file}\n`);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("bootstraps ordinal 0 of an empty site (no primary recorded), with the primary's configuration", async () => {
    assert.equal(await initInstance(options("mysql-0")), "bootstrap");
    assert.ok(existsSync(join(dir, "conf", "primary.cnf")));
    assert.match(readFileSync(join(dir, "conf", "server-id.cnf"), "utf8"), /server-id=100\n/);
  });

  it("never bootstraps once a primary is recorded: the recorded primary without data waits for a failover", async () => {
    record("mysql-0");
    await assert.rejects(initInstance(options("mysql-0")), /recorded primary but has no data/);
    assert.equal(existsSync(join(dir, "conf", "primary.cnf")), false);
  });

  it("keeps existing data as a replica when no new re-clone marker is there", async () => {
    record("mysql-1");
    mkdirSync(join(dir, "volume", "mysql", "mysql"), { recursive: true });
    writeFileSync(join(dir, "state", "reclone.mysql-0"), "token-1");
    writeFileSync(join(dir, "volume", RECLONE_DONE_FILE), "token-1\n");
    assert.equal(await initInstance(options("mysql-0")), "existing");
    assert.ok(
      existsSync(join(dir, "volume", "mysql", "mysql")),
      "data kept: that marker was honoured before",
    );
    assert.ok(existsSync(join(dir, "conf", "replica.cnf")));
  });

  it("refuses a corrupt primary record with the key named", async () => {
    writeFileSync(join(dir, "state", "primary"), '{"primary": "rm -rf /"}');
    await assert.rejects(initInstance(options("mysql-1")), /key 'primary'/);
  });
});

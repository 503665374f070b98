import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { ObservedState } from "../platform/kubernetes/observed-state.js";
import type { CloneOptions } from "./clone.js";
import { donorOrder, initInstance, OBSERVED_MAX_AGE_MS, RECLONE_DONE_FILE } from "./init-instance.js";

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

  it("clones from the replica the leader saw streaming; from the primary when that fails, on a clean slate", async () => {
    record("mysql-0");
    mkdirSync(join(dir, "observed"));
    writeFileSync(
      join(dir, "observed", "observation"),
      JSON.stringify(
        observed(new Date(), [
          ["mysql-0", null],
          ["mysql-1", 0],
        ]),
      ),
    );
    const tried: string[] = [];
    const lines: string[] = [];
    const outcome = await initInstance({
      ...options("mysql-2"),
      observedDir: join(dir, "observed"),
      log: (line) => lines.push(line),
      clone: (clone: CloneOptions) => {
        tried.push(clone.donor.address);
        if (clone.donor.address.startsWith("mysql-1.")) return Promise.reject(new Error("mysql-1 went away"));
        mkdirSync(join(clone.dataDir, "mysql"), { recursive: true });
        return Promise.resolve({
          donor: clone.donor.name,
          gtid: "0-100-7",
          bytes: 1e6,
          seconds: 1,
          clonedAt: "",
        });
      },
    });
    assert.equal(outcome, "cloned");
    assert.deepEqual(tried, ["mysql-1.mysql.test.svc", "mysql-0.mysql.test.svc"]);
    assert.match(lines.join("\n"), /mysql-1 went away: cloning from mysql-0\.mysql\.test\.svc instead/);
    assert.match(lines.join("\n"), /cloned 1\.0 MB from mysql-0\.mysql\.test\.svc/);
  });

  it("refuses a corrupt primary record with the key named", async () => {
    writeFileSync(join(dir, "state", "primary"), '{"primary": "rm -rf /"}');
    await assert.rejects(initInstance(options("mysql-1")), /key 'primary'/);
  });
});

/** The leader's published view: each instance with its lag when it streams (null: primary, or not). */
function observed(at: Date, instances: [string, number | null][], reachable = true): ObservedState {
  return {
    observedAt: at.toISOString(),
    controller: "controller-0",
    instances: instances.map(([name, lagSeconds]) => ({
      name,
      reachable,
      readOnly: lagSeconds !== null,
      gtid: "0-100-7",
      semiSync: null,
      replicating: lagSeconds !== null,
      lagSeconds,
      error: null,
    })),
  };
}

describe("agent init: the donor of a clone", () => {
  const now = new Date("2026-12-07T00:00:00Z");
  it("a replica streaming close behind first, then the primary", () => {
    const view = observed(now, [
      ["mysql-0", null],
      ["mysql-1", 2],
      ["mysql-2", 0],
    ]);
    assert.deepEqual(donorOrder(view, "mysql-0", "mysql-3", now), ["mysql-2", "mysql-0"]);
    assert.deepEqual(donorOrder(view, "mysql-0", "mysql-2", now), ["mysql-1", "mysql-0"], "never itself");
  });
  it("the primary alone: no replica close enough, none observed lately, nothing observed", () => {
    assert.deepEqual(
      donorOrder(
        observed(now, [
          ["mysql-0", null],
          ["mysql-1", 30],
        ]),
        "mysql-0",
        "mysql-2",
        now,
      ),
      ["mysql-0"],
    );
    const old = observed(new Date(now.getTime() - OBSERVED_MAX_AGE_MS - 1), [
      ["mysql-0", null],
      ["mysql-1", 0],
    ]);
    assert.deepEqual(donorOrder(old, "mysql-0", "mysql-2", now), ["mysql-0"]);
    assert.deepEqual(donorOrder(null, "mysql-1", "mysql-2", now), ["mysql-1"]);
    assert.deepEqual(donorOrder(null, null, "mysql-1", now), ["mysql-0"], "before a primary is recorded");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSpec } from "../spec/load.js";
import { mysqlOrdinal, planTopology, subnetForStateDir, surplusPods } from "./topology.js";

describe("topology", () => {
  it("derives a stable loopback /24 per state folder, away from 127.0.x", () => {
    const a = subnetForStateDir("/srv/site-a/.hapress");
    assert.equal(a, subnetForStateDir("/srv/site-a/.hapress"));
    assert.notEqual(a, subnetForStateDir("/srv/site-b/.hapress"));
    for (let i = 0; i < 200; i++) {
      const [first, second, third] = subnetForStateDir(`/tmp/site-${i}`).split(".").map(Number);
      assert.equal(first, 127);
      assert.ok(second !== undefined && second >= 2 && second <= 254, `second octet ${second}`);
      assert.ok(third !== undefined && third >= 0 && third <= 255);
    }
  });

  it("plans one pod per database replica with distinct addresses and server ordinals", () => {
    const spec = parseSpec({ database: { replicas: 4 } }, "test");
    const topology = planTopology(spec, "127.9.9");
    assert.deepEqual(
      topology.mysql.map((p) => [p.name, p.address, p.port]),
      [
        ["mysql-0", "127.9.9.10", 3306],
        ["mysql-1", "127.9.9.11", 3306],
        ["mysql-2", "127.9.9.12", 3306],
        ["mysql-3", "127.9.9.13", 3306],
      ],
    );
    const addresses = new Set([
      ...topology.mysql.map((p) => p.address),
      topology.loadBalancer.address,
      topology.services.mysqlPrimary.address,
      topology.services.mysqlReplicas.address,
    ]);
    assert.equal(addresses.size, 7, "no two objects share an address");
  });

  it("parses ordinals only from database pod names", () => {
    assert.equal(mysqlOrdinal("mysql-12"), 12);
    assert.equal(mysqlOrdinal("mysql-x"), null);
    assert.equal(mysqlOrdinal("wordpress-1"), null);
  });
});

describe("surplusPods", () => {
  it("lists the pods beyond the desired count, highest ordinal first, ignoring other names", () => {
    const names = ["mysql-0", "mysql-3", "wordpress-4", "mysql-1", "mysql-2", "notes"];
    assert.deepEqual(surplusPods(names, mysqlOrdinal, 1), ["mysql-3", "mysql-2", "mysql-1"]);
    assert.deepEqual(surplusPods(names, mysqlOrdinal, 4), []);
  });
});

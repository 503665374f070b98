import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { PodStatus, SiteStatus } from "../status/site-status.js";
import { compareFiles, describeTree } from "./manifest.js";
import { backupName, chooseBackupSource } from "./take.js";
import { parseRecoveryGtid, parseRecoveryTime } from "./restore.js";
import { HAPRESS_VERSION } from "../version.js";

function pod(name: string, overrides: Partial<PodStatus> = {}): PodStatus {
  return {
    name,
    component: "mysql",
    role: "replica",
    address: `127.9.9.${10 + Number(name.slice(-1))}`,
    port: 3306,
    pids: [1],
    ready: true,
    restarts: 0,
    phase: "running",
    gtid: "0-100-5",
    lagSeconds: 0,
    semiSync: true,
    readOnly: true,
    message: null,
    ...overrides,
  };
}

function status(pods: PodStatus[], primary = "mysql-0"): SiteStatus {
  return { primary, pods } as unknown as SiteStatus;
}

describe("where a backup reads from", () => {
  it("a ready replica, the least behind, the highest ordinal on a tie; never the primary while one serves", () => {
    const choice = chooseBackupSource(
      status([
        pod("mysql-0", { role: "primary", readOnly: false }),
        pod("mysql-1", { lagSeconds: 3 }),
        pod("mysql-2", { lagSeconds: 0 }),
        pod("mysql-3", { lagSeconds: 0 }),
      ]),
    );
    assert.equal(choice?.pod.name, "mysql-3");
    assert.equal(choice?.role, "replica");
  });

  it("the primary only when no replica is ready, and it says so", () => {
    const choice = chooseBackupSource(
      status([
        pod("mysql-0", { role: "primary", readOnly: false }),
        pod("mysql-1", { ready: false, phase: "cloning" }),
      ]),
    );
    assert.equal(choice?.pod.name, "mysql-0");
    assert.equal(choice?.role, "primary");
    assert.match(choice?.why ?? "", /no ready replica/);
  });

  it("nothing when no instance is ready", () => {
    assert.equal(chooseBackupSource(status([pod("mysql-0", { role: "primary", ready: false })])), null);
  });
});

describe("backup names and manifests", () => {
  it("names a backup by its UTC time, sortable and without colons", () => {
    assert.equal(backupName(new Date("2026-11-29T22:40:05.123Z")), "20261129T224005Z");
  });

  it("describes every file and link of a tree, and names each difference", async () => {
    const root = mkdtempSync(join(tmpdir(), "hapress-manifest-"));
    try {
      mkdirSync(join(root, "a", "b"), { recursive: true });
      writeFileSync(join(root, "a", "b", "one.txt"), "one");
      writeFileSync(join(root, "two.txt"), "two");
      symlinkSync("/usr/share/wordpress", join(root, "a", "link"));
      const described = await describeTree(root);
      assert.deepEqual(Object.keys(described).sort(), ["a/b/one.txt", "a/link", "two.txt"]);
      assert.equal(described["two.txt"]?.bytes, 3);
      assert.equal(described["a/link"]?.link, true);
      assert.deepEqual(compareFiles(described, await describeTree(root)), []);

      writeFileSync(join(root, "two.txt"), "TWO");
      writeFileSync(join(root, "extra.txt"), "");
      rmSync(join(root, "a", "b", "one.txt"));
      assert.deepEqual(compareFiles(described, await describeTree(root)), [
        "a/b/one.txt: missing",
        "extra.txt: not in the manifest",
        "two.txt: its SHA-256 differs from the manifest's",
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("restore points", () => {
  it("takes an ISO 8601 time in whole seconds with its zone, and says what is wrong otherwise", () => {
    assert.deepEqual(parseRecoveryTime("2026-11-29T22:40:05Z"), {
      kind: "time",
      time: Date.UTC(2026, 10, 29, 22, 40, 5) / 1000,
    });
    assert.deepEqual(parseRecoveryTime("2026-11-29T23:40:05+01:00"), {
      kind: "time",
      time: Date.UTC(2026, 10, 29, 22, 40, 5) / 1000,
    });
    assert.throws(
      () => parseRecoveryTime("2026-11-29 22:40:05"),
      /with its zone \(e\.g\. 2026-11-29T22:40:05Z\)/,
    );
    assert.throws(() => parseRecoveryTime("2026-11-29T22:40:05.250Z"), /whole seconds/);
  });

  it("takes a GTID of domain 0 only", () => {
    assert.deepEqual(parseRecoveryGtid("0-101-1234"), {
      kind: "gtid",
      gtid: { domain: 0, server: 101, seq: 1234 },
    });
    assert.throws(() => parseRecoveryGtid("1-101-5"), /not a GTID of domain 0/);
    assert.throws(() => parseRecoveryGtid("latest"), /not a GTID of domain 0/);
  });
});

describe("versions", () => {
  it("the version hapress reports and records in manifests is package.json's", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    assert.equal(HAPRESS_VERSION, pkg.version);
  });
});

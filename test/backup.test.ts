import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BackupManifest } from "../src/backup/manifest.js";
import type { ListedBackup } from "../src/backup/list.js";
import { scanArchive } from "../src/backup/replay.js";
import { newPrimary } from "../src/chaos/site-waits.js";
import { sleep } from "../src/util/process.js";
import { connectSql } from "../src/mysql/client.js";
import type { SiteStatus } from "../src/status/site-status.js";
import { ADMIN_PORT } from "../src/topology/topology.js";
import { eventually, makeSiteDir, runCli, TestSite } from "./helpers/site.js";
import { cookieHeader, login, restNonce } from "./helpers/wordpress.js";

const PORT = 18_484;
const RESTORED_PORT = 18_485;
const SITE = `http://127.0.0.1:${PORT}`;
const RESTORED_SITE = `http://127.0.0.1:${RESTORED_PORT}`;
const PITR_PORT = 18_486;
const SPEC = `local:\n  httpPort: ${PORT}\ndatabase:\n  replicas: 3\nwordpress:\n  replicas: 1\n  pageCache:\n    enabled: false\n`;

/** Publishes a post and uploads a text file through WordPress's REST API, as an author would. */
async function publish(site: TestSite, title: string): Promise<{ uploadUrl: string }> {
  const jar = await login(SITE, "admin", site.secrets().wordpressAdminPassword);
  const nonce = await restNonce(SITE, jar);
  const headers = { cookie: cookieHeader(jar), "x-wp-nonce": nonce };
  const post = await fetch(`${SITE}/?rest_route=/wp/v2/posts`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ title, content: `${title}: the body.`, status: "publish" }),
  });
  assert.equal(post.status, 201, await post.text());
  const file = `${title.toLowerCase().replace(/\W+/g, "-")}.txt`;
  const media = await fetch(`${SITE}/?rest_route=/wp/v2/media`, {
    method: "POST",
    headers: {
      ...headers,
      "content-type": "text/plain",
      "content-disposition": `attachment; filename=${file}`,
    },
    body: `${title}: the upload.\n`,
  });
  const uploaded = (await media.json()) as { source_url?: string };
  assert.equal(media.status, 201, JSON.stringify(uploaded));
  return { uploadUrl: new URL(uploaded.source_url ?? "").pathname };
}

/** Ids of a table on one instance, in order. */
async function ids(site: TestSite, endpoint: string, table: string): Promise<number[]> {
  const rows = await site.sqlAsApp(endpoint, `SELECT id FROM ${table} ORDER BY id`);
  return rows.map((row) => Number(row.id));
}

describe("backup and restore of a whole site (real servers, WordPress included)", () => {
  const site = new TestSite(makeSiteDir("bk"), SPEC);
  const restored = new TestSite(makeSiteDir("bkr"), SPEC);
  const pointInTime = new TestSite(makeSiteDir("bkt"), SPEC);
  let backupDir = "";
  let manifest: BackupManifest | null = null;
  const written: { acknowledged: number[] } = { acknowledged: [] };
  let before_: { uploadUrl: string } = { uploadUrl: "" };
  let after_: { uploadUrl: string } = { uploadUrl: "" };

  before(async () => {
    await site.up();
  });
  after(async () => {
    await pointInTime.destroy();
    await restored.destroy();
    await site.destroy();
  });

  it("backs up the site from a replica while writes go on: database, wp-content and spec, every file hashed", async () => {
    const primary = (await site.status()).endpoints.mysqlPrimary;
    await site.sqlAsApp(primary, "CREATE TABLE notes (id INT PRIMARY KEY)");
    for (let id = 1; id <= 100; id++) await site.sqlAsApp(primary, "INSERT INTO notes VALUES (?)", [id]);
    before_ = await publish(site, "Before the backup");
    const writer = await site.writer();
    writer.start();
    const result = await site.cli(["backup", "--json"], 300_000);
    const report = await writer.stop();
    written.acknowledged = report.acknowledged;
    assert.equal(result.code, 0, result.stderr);
    const taken = JSON.parse(result.stdout) as BackupManifest & { dir: string };
    backupDir = taken.dir;
    manifest = taken;
    assert.equal(taken.source.role, "replica", "a backup never loads the primary while a replica can serve");
    assert.equal(taken.withSecrets, false);
    assert.match(taken.gtid, /^\d+-\d+-\d+/);
    assert.ok(taken.database.bytes > 1_000_000);
    assert.ok(taken.wpContent && taken.wpContent.files > 0);
    const files = Object.keys(taken.files);
    assert.ok(files.includes("spec.json"));
    assert.ok(!files.includes("secrets.json"), "no credentials unless asked for");
    assert.ok(files.some((f) => f.startsWith("database/") && f.endsWith("notes.ibd")));
    assert.ok(files.some((f) => f.startsWith("wp-content/uploads/") && f.endsWith("before-the-backup.txt")));
    const onDisk = JSON.parse(readFileSync(join(backupDir, "manifest.json"), "utf8")) as BackupManifest;
    assert.equal(onDisk.gtid, taken.gtid);

    // Later changes, which the restore must not bring back.
    for (let id = 101; id <= 150; id++) await site.sqlAsApp(primary, "INSERT INTO notes VALUES (?)", [id]);
    after_ = await publish(site, "After the backup");

    const listed = await site.cli(["backups", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const backups = (JSON.parse(listed.stdout) as { backups: ListedBackup[] }).backups;
    assert.deepEqual(
      backups.map((b) => b.dir),
      [backupDir],
    );
  });

  it("refuses a damaged backup, naming the file, and a folder that holds a site; nothing is made", async () => {
    assert.ok(manifest, "the backup test ran");
    const victim = Object.keys(manifest.files).find((f) => f.endsWith("before-the-backup.txt")) ?? "";
    const path = join(backupDir, victim);
    const original = readFileSync(path);
    writeFileSync(path, Buffer.concat([original, Buffer.from("tampered")]));
    try {
      const refused = await restored.cli([
        "restore",
        backupDir,
        "--into",
        restored.stateDir,
        "--http-port",
        String(RESTORED_PORT),
      ]);
      assert.equal(refused.code, 2, `a damaged backup is bad input: ${refused.stderr}`);
      assert.match(
        refused.stderr,
        new RegExp(`${victim.replace(/[.]/g, "\\.")}: \\d+ bytes, the manifest says`),
      );
      assert.equal(existsSync(restored.stateDir), false, "nothing was made");
    } finally {
      writeFileSync(path, original);
    }
    const occupied = await site.cli([
      "restore",
      backupDir,
      "--into",
      site.stateDir,
      "--http-port",
      String(RESTORED_PORT),
    ]);
    assert.equal(occupied.code, 2, occupied.stderr);
    assert.match(occupied.stderr, /already holds a site/);
  });

  it("restores into a new site: exactly the backed-up data on every instance, and WordPress serves what existed then", async () => {
    assert.ok(manifest, "the backup test ran");
    const result = await restored.cli(
      ["restore", backupDir, "--into", restored.stateDir, "--http-port", String(RESTORED_PORT), "--json"],
      600_000,
    );
    assert.equal(result.code, 0, `${result.stderr}\n${result.stdout}`);
    const status = await restored.status();
    assert.equal(status.ready, true);
    assert.notEqual(
      restored.secrets().appPassword,
      site.secrets().appPassword,
      "the new site has its own credentials",
    );
    const instances = status.pods.filter((p) => p.component === "mysql").map((p) => `${p.address}:${p.port}`);
    assert.equal(instances.length, 3);

    const expected = Array.from({ length: 100 }, (_, i) => i + 1);
    for (const endpoint of instances) {
      assert.deepEqual(
        await ids(restored, endpoint, "notes"),
        expected,
        `${endpoint}: rows 1..100, nothing later`,
      );
    }
    // Taken under writes, the backup holds every write up to one point and none after it: the
    // writer's rows are a gap-free prefix of what it sent, with everything acknowledged before the
    // backup began (the writer commits one row at a time, in order).
    const writes = await ids(restored, instances[0] ?? "", "hapress_chaos_writes");
    const sent = [...written.acknowledged].sort((a, b) => a - b);
    const first = sent[0] ?? 0;
    assert.ok(writes.length > 0, "the backup caught some of the writes");
    assert.deepEqual(
      writes,
      Array.from({ length: writes.length }, (_, i) => first + i),
      "no hole: a consistent point in time",
    );
    const checksums = await Promise.all(
      instances.map(async (endpoint) => {
        const rows = await restored.sqlAsApp(endpoint, "CHECKSUM TABLE notes, hapress_chaos_writes");
        return rows.map((row) => String(row.Checksum)).join(",");
      }),
    );
    assert.equal(new Set(checksums).size, 1, `every instance holds the same data: ${checksums.join(" / ")}`);

    const home = await (await fetch(`${RESTORED_SITE}/`)).text();
    assert.match(home, /Before the backup/);
    assert.doesNotMatch(home, /After the backup/);
    const upload = await fetch(`${RESTORED_SITE}${before_.uploadUrl}`);
    assert.equal(upload.status, 200);
    assert.equal(await upload.text(), "Before the backup: the upload.\n");
    const later = await fetch(`${RESTORED_SITE}${after_.uploadUrl}`);
    const laterBody = (await later.text()).slice(0, 300);
    assert.equal(
      later.status,
      404,
      `a later upload is not there (${after_.uploadUrl} answered from ${later.url}, redirected: ${later.redirected}: ${laterBody})`,
    );
    // The original site still runs, untouched.
    assert.match(await (await fetch(`${SITE}/`)).text(), /After the backup/);
  });

  it("restores to a point in time across a failover: exactly the rows before T, from the backup and the binary log archive", async () => {
    const taken = await site.cli(["backup", "--json"], 300_000);
    assert.equal(taken.code, 0, taken.stderr);
    const backup = JSON.parse(taken.stdout) as BackupManifest & { dir: string };
    let status = await site.status();
    await site.sqlAsApp(status.endpoints.mysqlPrimary, "CREATE TABLE pitr (id INT PRIMARY KEY)");
    for (let id = 1; id <= 50; id++)
      await site.sqlAsApp(status.endpoints.mysqlPrimary, "INSERT INTO pitr VALUES (?)", [id]);

    // A failover between the backup and T: the archive must follow the new primary without a gap.
    const oldPrimary = status.primary ?? "";
    process.kill(await site.mariadbdPid(oldPrimary), "SIGKILL");
    status = await site.waitFor("a new primary, and the site ready again", newPrimary(oldPrimary));
    for (let id = 51; id <= 100; id++)
      await site.sqlAsApp(status.endpoints.mysqlPrimary, "INSERT INTO pitr VALUES (?)", [id]);
    // T: a whole second after every row above; the rows below come a second later still.
    await sleep(1100 - (Date.now() % 1000));
    const target = new Date(Math.floor(Date.now() / 1000) * 1000);
    await sleep(1100);
    for (let id = 101; id <= 120; id++)
      await site.sqlAsApp(status.endpoints.mysqlPrimary, "INSERT INTO pitr VALUES (?)", [id]);
    await site.sqlAsApp(status.endpoints.mysqlPrimary, "DROP TABLE pitr"); // the mistake
    // Asked of the primary itself: the status carries the supervisor's last observation, which may
    // predate the DROP (then the archive, one transaction ahead of it, never "matched": a CI failure).
    const [position] = await site.sqlAsApp(
      status.endpoints.mysqlPrimary,
      "SELECT @@global.gtid_binlog_pos AS gtid",
    );
    const primaryGtid = typeof position?.gtid === "string" ? position.gtid : "";
    const archive = join(dirname(backup.dir), "binlogs");
    await eventually("the archive holds the mistake", async () => {
      const segments = await scanArchive(archive);
      const last = segments.at(-1)?.transactions.at(-1)?.gtid;
      return last !== undefined && `${last.domain}-${last.server}-${last.seq}` === primaryGtid;
    }).catch(async (error: unknown) => {
      const segments = await scanArchive(archive);
      const seen = segments.map((g) => {
        const last = g.transactions.at(-1)?.gtid;
        return `${g.name}: ${g.files.length} file(s), last ${last ? `${last.domain}-${last.server}-${last.seq}` : "none"}`;
      });
      throw new Error(
        `the primary is at ${primaryGtid}; the archive in ${archive}: ${seen.join("; ") || "empty"}`,
        {
          cause: error,
        },
      );
    });
    assert.ok((await scanArchive(archive)).length >= 2, "one segment per primary");

    const before = await pointInTime.cli([
      "restore",
      backup.dir,
      "--into",
      pointInTime.stateDir,
      "--to-time",
      new Date(Date.parse(backup.createdAt) - 60_000).toISOString().replace(/\.\d+Z$/, "Z"),
    ]);
    assert.equal(before.code, 2, before.stderr);
    assert.match(before.stderr, /before the backup/);
    assert.equal(existsSync(pointInTime.stateDir), false, "a refusal makes nothing");

    // Restores the backup to a time into pointInTime's folder, asked from `from`'s state folder.
    const restoreAt = (from: TestSite, time: Date) =>
      from.cli(
        [
          "restore",
          backup.dir,
          "--into",
          pointInTime.stateDir,
          "--http-port",
          String(PITR_PORT),
          "--to-time",
          time.toISOString().replace(/\.\d+Z$/, "Z"),
        ],
        600_000,
      );
    const result = await restoreAt(pointInTime, target);
    assert.equal(result.code, 0, `${result.stderr}\n${result.stdout}`);
    assert.match(result.stderr, /replaying \d+ transaction\(s\) from 0+\d-mysql-\d/);
    const restoredStatus = await pointInTime.status();
    const instances = restoredStatus.pods
      .filter((p) => p.component === "mysql")
      .map((p) => `${p.address}:${p.port}`);
    const expected = Array.from({ length: 100 }, (_, i) => i + 1);
    for (const endpoint of instances)
      assert.deepEqual(
        await ids(pointInTime, endpoint, "pitr"),
        expected,
        `${endpoint}: the rows before T, none after`,
      );
    await pointInTime.destroy();

    // A quiet site: a time after the archive's last transaction is refused only if the primary wrote
    // something the archive lacks. Asked from the running site, nothing was written since: accepted.
    const quietTarget = new Date(Math.floor(Date.now() / 1000) * 1000 + 1000);
    await sleep(quietTarget.getTime() + 11_000 - Date.now());
    const quiet = await restoreAt(site, quietTarget);
    assert.equal(quiet.code, 0, `${quiet.stderr}\n${quiet.stdout}`);
    const replayedAll = await pointInTime.status();
    const primary = replayedAll.pods.find((p) => p.name === replayedAll.primary);
    const tables = await pointInTime.sqlAsApp(
      `${primary?.address}:${primary?.port}`,
      "SHOW TABLES LIKE 'pitr'",
    );
    assert.equal(tables.length, 0, "every archived transaction replayed, the DROP TABLE too");
  });
  it("restores over the running site only with --replace --yes: same addresses and port, the old data kept aside, backups carried over", async () => {
    const before = await site.status();
    const refused = await site.cli(["restore", backupDir, "--into", site.stateDir, "--replace"]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /--replace stops the site .* confirm with --yes/);
    const without = await site.cli(["restore", backupDir, "--into", site.stateDir]);
    assert.equal(without.code, 2, without.stderr);
    assert.match(without.stderr, /already holds a site.*--replace --yes/);
    assert.equal((await site.status()).supervisorPid, before.supervisorPid, "refusals change nothing");

    const replaced = await site.cli(
      ["restore", backupDir, "--into", site.stateDir, "--replace", "--yes", "--json"],
      600_000,
    );
    assert.equal(replaced.code, 0, `${replaced.stderr}\n${replaced.stdout}`);
    const result = JSON.parse(replaced.stdout) as SiteStatus & { replacedSiteKeptIn: string };
    const aside = result.replacedSiteKeptIn;
    try {
      assert.equal(result.ready, true);
      assert.deepEqual(result.endpoints, before.endpoints, "the same addresses and HTTP port");
      // The site is the backup's again: the post from before it, not the one after.
      const home = await (await fetch(`${SITE}/`)).text();
      assert.match(home, /Before the backup/);
      assert.doesNotMatch(home, /After the backup/);
      // The replaced site's data is kept aside, whole; the backups moved with the site.
      assert.ok(existsSync(join(aside, "secrets.json")), `kept in ${aside}`);
      const listed = JSON.parse((await site.cli(["backups", "--json"])).stdout) as {
        backups: ListedBackup[];
      };
      assert.ok(
        listed.backups.some((b) => b.name === basename(backupDir)),
        "the backups came along",
      );
      // Its binary logs go to an archive of their own: its GTIDs repeat the old history's.
      const record = JSON.parse(readFileSync(join(site.stateDir, "site.json"), "utf8")) as {
        archive?: string;
      };
      assert.match(record.archive ?? "", /^binlogs-\d{8}T\d{6}Z$/);
      await eventually("the restored site archives its own history", () =>
        Promise.resolve(existsSync(join(site.stateDir, "backups", record.archive ?? "?"))),
      );
      assert.ok(existsSync(join(site.stateDir, "backups", "binlogs")), "the old history is still there");
    } finally {
      if (aside) await runCli(["--dir", aside, "down", "--volumes", "--yes"]);
    }
  });
});

describe("scheduled backups with retention (a one-instance site: the backup reads the primary, and says so)", () => {
  const site = new TestSite(
    makeSiteDir("bks"),
    'database:\n  replicas: 1\nwordpress:\n  replicas: 0\nbackup:\n  schedule: "*/4 * * * * *"\n  keep:\n    count: 2\n',
  );
  before(async () => {
    await site.up();
  });
  after(async () => {
    await site.destroy();
  });

  it("takes a backup at each occurrence and keeps the newest two", async () => {
    const supervisorLog = () => readFileSync(join(site.stateDir, "logs", "supervisor.log"), "utf8");
    const taken = () => (supervisorLog().match(/scheduled backup taken/g) ?? []).length;
    await eventually("three scheduled backups", () => Promise.resolve(taken() >= 3), 120_000);
    await eventually("retention applied after the third", async () => {
      const listed = JSON.parse((await site.cli(["backups", "--json"])).stdout) as {
        backups: ListedBackup[];
      };
      return listed.backups.length === 2;
    });
    assert.match(supervisorLog(), /removed backup \d{8}T\d{6}Z \(backup\.keep\)/);
    const listed = JSON.parse((await site.cli(["backups", "--json"])).stdout) as { backups: ListedBackup[] };
    // The schedule goes on meanwhile: a backup being taken or pruned at that instant has no manifest.
    const complete = listed.backups.filter((b) => b.manifest);
    assert.ok(complete.length >= 1, `complete backups listed: ${JSON.stringify(listed.backups)}`);
    for (const b of complete) assert.equal(b.manifest?.source.role, "primary", "alone, the primary is read");
  });

  it("reports a hole in the binary-log archive in status, as an event and in 'backups', never skipping it silently", async () => {
    const status = await site.status();
    assert.equal(status.backup?.gaps.length, 0, "no gap to begin with");
    const primary = status.pods.find((p) => p.name === status.primary);
    assert.ok(primary);
    const writes = status.endpoints.mysqlPrimary;
    // Four binary logs with one transaction each; then the archive loses the second one (a file
    // deleted on the backup disk: what no archiver can copy again, like a log purged before it was
    // read). The archive's check must find the hole between the first and the third.
    const admin = await connectSql(
      { host: primary.address.split(":")[0] ?? "", port: ADMIN_PORT },
      { user: site.secrets().adminUser, password: site.secrets().adminPassword },
    );
    const written: { file: string; gtid: string }[] = [];
    try {
      await site.sqlAsApp(writes, "CREATE TABLE around_gap (id INT PRIMARY KEY)");
      for (let i = 1; i <= 4; i++) {
        const [where] = (await admin.query("SHOW MASTER STATUS")) as { File?: string }[];
        await site.sqlAsApp(writes, `INSERT INTO around_gap VALUES (${i})`);
        const [pos] = await admin.query("SELECT @@global.gtid_binlog_pos AS pos");
        written.push({ file: where?.File ?? "", gtid: typeof pos?.pos === "string" ? pos.pos : "" });
        if (i < 4) await admin.query("FLUSH BINARY LOGS");
      }
    } finally {
      await admin.close();
    }
    const archive = join(site.stateDir, "backups", "binlogs");
    const lastSeq = Number(written[3]?.gtid.split("-")[2]);
    await eventually("the archive holds the four inserts", async () =>
      (await scanArchive(archive)).some((g) => g.transactions.some((t) => t.gtid.seq === lastSeq)),
    );
    const [segment] = await scanArchive(archive);
    assert.ok(segment);
    rmSync(join(archive, segment.name, written[1]?.file ?? "?"));
    let gaps: NonNullable<SiteStatus["backup"]>["gaps"] = [];
    await eventually(
      "the gap in status",
      async () => {
        gaps = (await site.status()).backup?.gaps ?? [];
        return gaps.length > 0;
      },
      120_000,
    );
    assert.deepEqual(gaps, [{ after: written[0]?.gtid, next: written[2]?.gtid, segment: segment.name }]);
    const events = readFileSync(join(site.stateDir, "events.jsonl"), "utf8");
    assert.match(events, /"kind":"archive-gap".*nothing between 0-\d+-\d+ and 0-\d+-\d+/);
    const listed = await site.cli(["backups"]);
    assert.match(listed.stdout, /GAP in the archive: nothing between 0-\d+-\d+ and 0-\d+-\d+/);
    const human = await site.cli(["status"]);
    assert.match(human.stdout, /1 GAP\(S\)/);
  });
});

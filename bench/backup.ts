// The backup section of `npm run bench` (HAPRESS_BENCH=backup): a backup of a ~HAPRESS_BENCH_MB
// database beside `cp -r` of the same data folder, a restore of it into a new site, and how far the
// binary-log archive trails the primary under 100 writes/s. Prints figures, asserts nothing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scanArchive } from "../src/backup/replay.js";
import type { BackupManifest } from "../src/backup/manifest.js";
import { connectSql, type SqlSession } from "../src/mysql/client.js";
import { currentLayout } from "../src/platform/local/layout.js";
import type { SiteStatus } from "../src/status/site-status.js";
import type { Secrets } from "../src/state/secrets.js";
import { sleep } from "../src/util/process.js";

type Cli = (dir: string, args: string[]) => Promise<{ stdout: string; stderr: string }>;
type Run = (command: string, args: string[], cwd: string) => Promise<{ code: number | null; stdout: string }>;

/** ~1 KB rows from MariaDB's sequence engine, 100,000 rows per statement (as the clone section does). */
export async function loadFiller(session: SqlSession, megabytes: number): Promise<void> {
  await session.query(
    "CREATE TABLE filler (id INT AUTO_INCREMENT PRIMARY KEY, payload VARCHAR(1000)) ENGINE=InnoDB",
  );
  const targetRows = megabytes * 1100;
  for (let done = 0; done < targetRows; done += 100_000) {
    const rows = Math.min(100_000, targetRows - done);
    await session.query(
      `INSERT INTO filler (payload) SELECT REPEAT(SHA2(seq + ${done}, 512), 7) FROM seq_1_to_${rows}`,
    );
  }
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

export async function benchBackup(megabytes: number, hapress: Cli, run: Run): Promise<void> {
  const dir = mkdtempSync("/tmp/hpb-backup-");
  const restoredDir = mkdtempSync("/tmp/hpb-restored-");
  try {
    writeFileSync(
      join(dir, "hapress.yaml"),
      "database:\n  replicas: 2\n  bufferPoolMB: 256\nwordpress:\n  replicas: 0\n",
    );
    await hapress(dir, ["up"]);
    const status = JSON.parse((await hapress(dir, ["status", "--json"])).stdout) as SiteStatus;
    const secrets = JSON.parse(readFileSync(join(dir, "state", "secrets.json"), "utf8")) as Secrets;
    const [host, port] = status.endpoints.mysqlPrimary.split(":");
    const endpoint = { host: host ?? "", port: Number(port) };
    const credentials = { user: secrets.appUser, password: secrets.appPassword };
    const session = await connectSql(endpoint, credentials, {
      database: secrets.appDatabase,
      queryTimeoutMs: 600_000,
    });
    await loadFiller(session, megabytes);

    const replica = status.pods.find((p) => p.role === "replica");
    const dataDir = currentLayout(join(dir, "state")).mysqlDataDir(replica?.name ?? "mysql-1");
    const copyTarget = join(dir, "copy");
    const copyStarted = process.hrtime.bigint();
    await run("cp", ["-r", dataDir, copyTarget], dir);
    const copySeconds = seconds(copyStarted);
    const copied = Number((await run("du", ["-sm", copyTarget], dir)).stdout.split("\t")[0]);
    rmSync(copyTarget, { recursive: true, force: true });

    const backupStarted = process.hrtime.bigint();
    const taken = JSON.parse((await hapress(dir, ["backup", "--json"])).stdout) as BackupManifest & {
      dir: string;
    };
    const backupSeconds = seconds(backupStarted);
    const mb = taken.database.bytes / 1e6;
    console.log(
      `backup of a ${megabytes} MB database from ${taken.source.instance}: stream ${mb.toFixed(0)} MB in ${taken.database.seconds.toFixed(1)} s = ${(mb / taken.database.seconds).toFixed(0)} MB/s; whole backup (with hashing every file) ${backupSeconds.toFixed(1)} s`,
    );
    console.log(
      `cp -r of the replica's data folder: ${copied} MB in ${copySeconds.toFixed(1)} s = ${(copied / copySeconds).toFixed(0)} MB/s`,
    );

    const restoreStarted = process.hrtime.bigint();
    await hapress(restoredDir, ["restore", taken.dir, "--into", join(restoredDir, "state"), "--json"]);
    console.log(
      `restore into a new site of 2 instances, ready (verify, copy, accounts, start, clone the replica): ${seconds(restoreStarted).toFixed(1)} s`,
    );
    await hapress(restoredDir, ["down", "--volumes", "--yes"]);

    // The archive's lag: at 100 inserts/s, how long until a committed insert is in the archive.
    await session.query("CREATE TABLE lag_probe (id INT PRIMARY KEY)");
    const archive = join(dir, "state", "backups", "binlogs");
    const lags: number[] = [];
    let id = 0;
    const writing = (async () => {
      const until = Date.now() + 12_000;
      while (Date.now() < until) {
        await session.query("INSERT INTO lag_probe VALUES (?)", [++id]);
        await sleep(10);
      }
    })();
    for (let sample = 0; sample < 5; sample++) {
      await sleep(1500);
      const rows = await session.query("SELECT @@global.gtid_binlog_pos AS pos");
      const position = rows[0]?.pos;
      const seq = Number((typeof position === "string" ? position : "").split("-")[2]);
      const committedAt = Date.now();
      for (let poll = 0; poll < 200; poll++) {
        const last = (await scanArchive(archive)).at(-1)?.transactions.at(-1)?.gtid.seq ?? 0;
        if (last >= seq) break;
        await sleep(10);
      }
      lags.push(Date.now() - committedAt);
    }
    await writing;
    await session.close();
    lags.sort((a, b) => a - b);
    console.log(
      `binary-log archive behind the primary at ~100 inserts/s: median ${lags[2]} ms, max ${lags[4]} ms (time until a committed insert is read back from the archive, polling included)`,
    );
  } finally {
    await hapress(restoredDir, ["down", "--volumes", "--yes"]).catch(() => undefined);
    await hapress(dir, ["down", "--volumes", "--yes"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    rmSync(restoredDir, { recursive: true, force: true });
  }
}

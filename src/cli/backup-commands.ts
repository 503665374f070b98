import type { Command } from "commander";
import { backupRoot, binlogArchiveDir, listBackups } from "../backup/list.js";
import { scanArchive } from "../backup/replay.js";
import { archiveGaps } from "../backup/archive-gaps.js";
import { liveArchiveCompleteness } from "../backup/completeness.js";
import { readSiteRecord } from "../platform/local/site-record.js";
import { formatGtid } from "../backup/replay-plan.js";
import { createInterface } from "node:readline/promises";
import {
  holdsSite,
  parseRecoveryGtid,
  parseRecoveryTime,
  prepareRestore,
  type PreparedRestore,
} from "../backup/restore.js";
import { restoreReplacing } from "../backup/replace.js";
import type { SiteStatus } from "../status/site-status.js";
import { takeBackup } from "../backup/take.js";
import { HapressError, InputError } from "../errors.js";
import { checkHttpPortFree, preflight, up, type SelfCommand } from "../platform/local/site-control.js";
import { specSchema } from "../spec/schema.js";
import { readJsonFile, statePaths } from "../state/files.js";
import { parseCount, parseSeconds, report } from "./options.js";

export interface BackupCommandContext {
  stateDir: string;
  self: SelfCommand;
}

async function runningSpecOf(stateDir: string) {
  const spec = await readJsonFile(statePaths(stateDir).spec, specSchema);
  if (!spec) throw new HapressError(`no site in ${stateDir}: run 'hapress up' first, or pass --dir`);
  return spec;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** `hapress backup`, `hapress backups` and `hapress restore` (the local target). */
export function addBackupCommands(program: Command, context: () => BackupCommandContext): void {
  program
    .command("backup")
    .description("take a backup of the running site: database (from a replica), wp-content and spec")
    .option("--with-secrets", "include the site's credentials (secrets.json) in the backup")
    .option("--json", "print the backup's manifest as JSON, and no progress")
    .action(async (options: { withSecrets?: boolean; json?: boolean }) => {
      const { stateDir } = context();
      const spec = await runningSpecOf(stateDir);
      const started = Date.now();
      const showProgress = !options.json && process.stderr.isTTY;
      let lastShown = 0;
      const taken = await takeBackup({
        stateDir,
        destination: backupRoot(stateDir, spec),
        withSecrets: options.withSecrets ?? false,
        log: options.json ? () => undefined : report,
        onProgress: (bytes) => {
          if (!showProgress || Date.now() - lastShown < 500) return;
          lastShown = Date.now();
          const rate = bytes / 1e6 / Math.max(0.001, (Date.now() - started) / 1000);
          process.stderr.write(`\r  database: ${megabytes(bytes)} received, ${rate.toFixed(1)} MB/s   `);
        },
      });
      if (showProgress) process.stderr.write("\n");
      const m = taken.manifest;
      if (options.json) return console.log(JSON.stringify({ dir: taken.dir, ...m }, null, 2));
      const seconds = (Date.now() - started) / 1000;
      console.log(`backup ${taken.dir} taken in ${seconds.toFixed(1)} s`);
      console.log(`  source:      ${m.source.instance} (${taken.source.why})`);
      console.log(`  GTID:        ${m.gtid || "(none)"}`);
      console.log(
        `  database:    ${megabytes(m.database.bytes)} in ${m.database.seconds.toFixed(1)} s (${(m.database.bytes / 1e6 / Math.max(0.001, m.database.seconds)).toFixed(1)} MB/s)`,
      );
      console.log(
        `  wp-content:  ${m.wpContent ? `${m.wpContent.files} files, ${megabytes(m.wpContent.bytes)}` : "(none: the site has no WordPress tier)"}`,
      );
      console.log(
        `  credentials: ${m.withSecrets ? "INCLUDED (secrets.json, mode 0600): keep this backup as safe as the site" : "not included (--with-secrets to include them)"}`,
      );
    });

  program
    .command("backups")
    .description("list the site's backups")
    .option("--json", "print them as JSON")
    .action(async (options: { json?: boolean }) => {
      const { stateDir } = context();
      const spec = await runningSpecOf(stateDir);
      const root = backupRoot(stateDir, spec);
      const backups = await listBackups(root);
      const site = await readSiteRecord(statePaths(stateDir).site);
      const segments = await scanArchive(binlogArchiveDir(stateDir, spec, site?.archive));
      const last = segments.at(-1)?.transactions.at(-1) ?? null;
      const gaps = archiveGaps(segments);
      const archive = {
        segments: segments.map((segment) => segment.name),
        gaps,
        lastTransaction: last
          ? { gtid: formatGtid(last.gtid), time: new Date(last.time * 1000).toISOString() }
          : null,
      };
      if (options.json) return console.log(JSON.stringify({ root, backups, archive }, null, 2));
      if (backups.length === 0) return console.log(`no backups in ${root} (take one with 'hapress backup')`);
      const oldest = backups.find((b) => b.manifest)?.manifest?.createdAt;
      if (oldest && archive.lastTransaction && Date.parse(archive.lastTransaction.time) <= Date.parse(oldest))
        console.log(
          "restorable to each backup's own point (no transaction archived after the oldest backup yet)",
        );
      else if (oldest && archive.lastTransaction)
        console.log(
          `restorable to any second from ${oldest} to ${archive.lastTransaction.time} (GTID ${archive.lastTransaction.gtid}; ${segments.length} archive segment(s))${gaps.length > 0 ? " EXCEPT across the gaps below" : ", no gap"}`,
        );
      for (const gap of gaps)
        console.log(
          `GAP in the archive: nothing between ${gap.after} and ${gap.next} (segment ${gap.segment}): no point between them can be restored`,
        );
      console.log(`backups in ${root}:`);
      for (const b of backups) {
        if (!b.manifest) {
          console.log(`  ${b.name}  NOT RESTORABLE: ${b.problem ?? "?"}`);
          continue;
        }
        const m = b.manifest;
        console.log(
          `  ${b.name}  ${m.createdAt}  GTID ${m.gtid || "-"}  ${megabytes(m.database.bytes)} from ${m.source.instance}${m.wpContent ? `, wp-content ${m.wpContent.files} files` : ""}${m.withSecrets ? ", with credentials" : ""}`,
        );
      }
    });

  program
    .command("restore")
    .description("build a new site from a backup, in its own state folder, and start it")
    .argument("<backup>", "the backup's folder (see 'hapress backups')")
    .requiredOption("--into <dir>", "state folder of the new site (new or empty)")
    .option(
      "--http-port <port>",
      "the new site's HTTP port (default: the backed-up site's)",
      parseCount(1, 65535),
    )
    .option(
      "--to-time <time>",
      "replay the archived binary logs up to this time, exclusive (ISO 8601 in whole seconds, e.g. 2026-11-29T22:40:05Z)",
    )
    .option(
      "--to-gtid <gtid>",
      "replay the archived binary logs up to and including this GTID (e.g. 0-101-1234)",
    )
    .option(
      "--replace",
      "the folder holds a site: stop it, restore in its place, keep its data aside (put back if the restored site does not become ready)",
    )
    .option("-y, --yes", "do not ask before replacing a site")
    .option("--timeout <seconds>", "how long to wait for the new site to be ready", parseSeconds, 600)
    .option("--json", "print the new site's status as JSON")
    .action(
      async (
        backup: string,
        options: {
          into: string;
          httpPort?: number;
          toTime?: string;
          toGtid?: string;
          timeout: number;
          json?: boolean;
          replace?: boolean;
          yes?: boolean;
        },
      ) => {
        if (options.toTime && options.toGtid)
          throw new InputError("--to-time and --to-gtid: give one point to restore to, not both");
        const { self, stateDir } = context();
        const log = options.json ? () => undefined : report;
        const target = options.toTime
          ? parseRecoveryTime(options.toTime)
          : options.toGtid
            ? parseRecoveryGtid(options.toGtid)
            : undefined;
        // A time past the archive's last transaction is fine if the running site wrote nothing since.
        const archiveCompleteness = async () => {
          const spec = await readJsonFile(statePaths(stateDir).spec, specSchema).catch(() => null);
          return spec ? liveArchiveCompleteness(stateDir, spec, backup) : null;
        };
        if (options.replace && holdsSite(options.into)) {
          await confirmReplacing(options.into, options.yes === true);
          const replaced = await restoreReplacing({
            backupDir: backup,
            stateDir: options.into,
            httpPort: options.httpPort,
            target,
            archiveCompleteness,
            self,
            log,
            timeoutMs: options.timeout * 1000,
          });
          if (options.json)
            return console.log(
              JSON.stringify({ ...replaced.status, replacedSiteKeptIn: replaced.aside }, null, 2),
            );
          printRestored(
            backup,
            options.into,
            replaced.status,
            replaced.prepared,
            options.toTime ?? options.toGtid,
          );
          console.log(
            `  replaced site:    stopped, its state folder kept in ${replaced.aside} (remove it when you no longer need it)`,
          );
          return;
        }
        const prepared = await prepareRestore({
          backupDir: backup,
          intoDir: options.into,
          httpPort: options.httpPort,
          target,
          log,
          archiveCompleteness,
          preflight: async (dir, spec) => {
            await preflight(dir, spec);
            await checkHttpPortFree(spec, options.httpPort ? "--http-port" : `${backup}/spec.json`);
          },
        });
        const status = await up(
          prepared.spec,
          `${backup}/spec.json`,
          options.into,
          self,
          log,
          options.timeout * 1000,
        );
        if (options.json) return console.log(JSON.stringify(status, null, 2));
        printRestored(backup, options.into, status, prepared, options.toTime ?? options.toGtid);
      },
    );
}

function printRestored(
  backup: string,
  into: string,
  status: SiteStatus,
  prepared: PreparedRestore,
  point: string | undefined,
): void {
  console.log(`site ${status.site} restored from ${backup} into ${into} and ready`);
  console.log(
    prepared.replayed
      ? `  data as of:       ${point} (the backup of ${prepared.manifest.createdAt}, then ${prepared.replayed.transactions} archived transaction(s), up to ${prepared.replayed.lastGtid ?? prepared.manifest.gtid})`
      : `  data as of:       ${prepared.manifest.createdAt} (GTID ${prepared.manifest.gtid || "-"})`,
  );
  if (status.endpoints.http) console.log(`  site:             ${status.endpoints.http}`);
  console.log(`  mysql-primary:    ${status.endpoints.mysqlPrimary}`);
  console.log(
    `  credentials:      ${prepared.reusedSecrets ? "the backed-up site's (the backup holds them)" : `new, in ${statePaths(into).secrets}`}; WordPress logins are the backed-up site's`,
  );
}

/** Replacing a site stops it: asked on a terminal, `--yes` otherwise (as `down --volumes`). */
async function confirmReplacing(into: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY)
    throw new InputError(
      `--replace stops the site in ${into} and sets its data aside: confirm with --yes (no terminal to ask on)`,
    );
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(
    `Stop the site in ${into} and restore over it (its data is kept aside)? Type 'yes': `,
  );
  rl.close();
  if (answer.trim() !== "yes") throw new InputError("not confirmed; nothing changed");
}

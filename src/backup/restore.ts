import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { restorePrimaryDataDir } from "../agent/initdb.js";
import { HapressError, InputError } from "../errors.js";
import { currentLayout, ensureServiceRoot, giveTo } from "../platform/local/layout.js";
import { ensureSiteRecord, readSiteRecord } from "../platform/local/site-record.js";
import { binlogArchiveDir } from "./list.js";
import { readJsonFile, statePaths, writeJsonFile } from "../state/files.js";
import { writePrimaryRecord } from "../state/primary.js";
import { loadOrCreateSecrets, loadSecrets } from "../state/secrets.js";
import { specSchema, type Spec } from "../spec/schema.js";
import { runProgramChecked } from "../util/process.js";
import { replayInto, scanArchive } from "./replay.js";
import { archiveFolderForRestore, DEFAULT_ARCHIVE } from "./archive-folder.js";
import {
  parseGtid,
  planReplay,
  type ArchiveCompleteness,
  type RecoveryTarget,
  type ReplayPlan,
} from "./replay-plan.js";
import {
  compareFiles,
  describeTree,
  MANIFEST_FILE,
  manifestSchema,
  type BackupManifest,
} from "./manifest.js";

/** Reads a backup's manifest; a missing or damaged one is a clear error naming the file. */
export async function readManifest(backupDir: string): Promise<BackupManifest> {
  const path = join(backupDir, MANIFEST_FILE);
  if (!existsSync(path))
    throw new InputError(
      `${backupDir}: no ${MANIFEST_FILE}, so not a complete hapress backup (see 'hapress backups' for the ones there are)`,
    );
  const manifest = await readJsonFile(path, manifestSchema);
  if (!manifest) throw new InputError(`${path}: unreadable`);
  return manifest;
}

/**
 * Proves a backup is whole: every file the manifest lists is there with its size and SHA-256, and
 * nothing else. The error names the files that differ; nothing is changed either way.
 */
export async function verifyBackup(backupDir: string): Promise<BackupManifest> {
  const manifest = await readManifest(backupDir);
  const found = await describeTree(backupDir, new Set([MANIFEST_FILE]));
  const problems = compareFiles(manifest.files, found);
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join("; ");
    throw new InputError(
      `${backupDir}: the backup is damaged, ${problems.length} file(s) differ from its manifest: ${shown}${problems.length > 5 ? "; …" : ""}. Nothing was restored; use another backup`,
    );
  }
  return manifest;
}

/** A state folder "holds a site" when it has any of a site's records or data. */
export function holdsSite(stateDir: string): boolean {
  const paths = statePaths(stateDir);
  return [paths.site, paths.spec, paths.primary, paths.pods].some((path) => existsSync(path));
}

export interface PrepareRestoreOptions {
  backupDir: string;
  /** The new site's state folder: empty or missing. */
  intoDir: string;
  /** The new site's HTTP port (the backed-up site's may be in use by that very site). */
  httpPort?: number;
  log: (line: string) => void;
  /** Checks the machine for the new site (programs, its HTTP port) before anything is written. */
  preflight: (stateDir: string, spec: Spec) => Promise<void>;
  /** A point in time after the backup: the archived binary logs are replayed up to it. */
  target?: RecoveryTarget;
  /**
   * Asked before the archive is read: what the running site's primary holds (see
   * ArchiveCompleteness), or null when the backup's site is not the running one.
   */
  archiveCompleteness?: () => Promise<ArchiveCompleteness | null>;
  /** false: the caller assigns the archive folder later (restore --replace, once the backups moved). */
  assignArchive?: boolean;
}

/**
 * Gives a restored site its archive folder (see SiteRecord.archive): its own when the backup root
 * already holds another history's segments in `binlogs`.
 */
export async function assignArchiveFolder(stateDir: string, spec: Spec, now = new Date()): Promise<string> {
  const paths = statePaths(stateDir);
  const record = await readSiteRecord(paths.site);
  if (!record) throw new HapressError(`${paths.site}: missing`);
  const segments = await scanArchive(binlogArchiveDir(stateDir, spec));
  const archive = archiveFolderForRestore(segments.length > 0, now);
  await writeJsonFile(paths.site, { ...record, archive });
  return archive;
}

export interface PreparedRestore {
  spec: Spec;
  manifest: BackupManifest;
  /** Whether the backup's own credentials were reused (it was taken with --with-secrets). */
  reusedSecrets: boolean;
  /** For a point-in-time restore: the last transaction replayed (null: none after the backup). */
  replayed: { lastGtid: string | null; transactions: number } | null;
}

/**
 * Lays out a new site from a backup, ready for `up`: its state folder with the backup's spec, its
 * credentials (the backup's when it holds them, otherwise new ones, set on the restored accounts),
 * mysql-0's data from the backup recorded as the primary (the others are cloned from it as usual),
 * and `wp-content`. Checks first (a damaged backup, a folder holding a site), so a refusal changes
 * nothing; a failure half-way removes what it made.
 */
export async function prepareRestore(options: PrepareRestoreOptions): Promise<PreparedRestore> {
  const backupDir = resolve(options.backupDir);
  const intoDir = resolve(options.intoDir);
  if (holdsSite(intoDir))
    throw new InputError(
      `--into ${options.intoDir}: the folder already holds a site; restore into a new folder (e.g. --into ${options.intoDir}-restored), or over this site with --replace --yes (it is stopped and kept aside until the restored one is ready)`,
    );
  const manifest = await verifyBackup(backupDir);
  const backedUpSpec = specSchema.parse(JSON.parse(await readFile(join(backupDir, "spec.json"), "utf8")));
  const spec: Spec = {
    ...backedUpSpec,
    local: { ...backedUpSpec.local, httpPort: options.httpPort ?? backedUpSpec.local.httpPort },
  };
  const steps = options.target
    ? await planTargetReplay(backupDir, manifest, options.target, options.archiveCompleteness)
    : null;
  await options.preflight(intoDir, spec);
  const createdFolder = !existsSync(intoDir);
  if (!createdFolder && (await readdir(intoDir)).length > 0)
    throw new InputError(
      `--into ${options.intoDir}: the folder is not empty; restore into a new or empty folder`,
    );
  await mkdir(intoDir, { recursive: true, mode: 0o700 });
  const paths = statePaths(intoDir);
  const layout = currentLayout(intoDir);
  try {
    await ensureSiteRecord(paths.site, spec.name, intoDir);
    await writeJsonFile(paths.spec, spec);
    const reusedSecrets = manifest.withSecrets;
    if (reusedSecrets) await writeJsonFile(paths.secrets, await loadSecrets(join(backupDir, "secrets.json")));
    const secrets = await loadOrCreateSecrets(paths.secrets);

    options.log(
      `restoring the database (GTID ${manifest.gtid || "none"}) as mysql-0, the new site's primary`,
    );
    await ensureServiceRoot(layout);
    const podDir = layout.podServiceDir("mysql-0");
    await mkdir(podDir, { recursive: true, mode: 0o700 });
    if (layout.accounts)
      await giveTo(podDir, layout.accounts.mysql, { recursive: true, groupReadable: false });
    const runAs = layout.accounts?.mysql.name ?? null;
    await restorePrimaryDataDir(join(backupDir, "database"), layout.mysqlDataDir("mysql-0"), secrets, {
      runAs,
      replay: steps ? (workDir) => replayInto(workDir, steps.steps, { runAs, log: options.log }) : undefined,
    });
    await writePrimaryRecord(paths.primary, "mysql-0", `restored from backup ${manifest.createdAt}`);
    if (options.assignArchive !== false) await assignArchiveFolder(intoDir, spec);

    if (manifest.wpContent && existsSync(join(backupDir, "wp-content"))) {
      options.log(`restoring wp-content (${manifest.wpContent.files} files)`);
      await mkdir(layout.wordpressRoot, { recursive: true, mode: 0o700 });
      const content = join(layout.wordpressRoot, "content");
      const work = `${content}.tmp-${randomBytes(4).toString("hex")}`;
      await runProgramChecked("cp", ["-a", "--no-dereference", join(backupDir, "wp-content"), work]);
      // The content belongs to the web workers, as a freshly seeded one does (see wordpress/core.ts).
      if (layout.accounts) await giveTo(work, layout.accounts.web, { recursive: true, groupReadable: true });
      else await runProgramChecked("chmod", ["-R", "go-rwx", work]);
      await rename(work, content);
    }
    // The restored WordPress is installed, with the backed-up site's users and passwords: `up` must
    // not show this site's generated admin password as if it were the login.
    await writeJsonFile(paths.wordpressInstall, {
      installedAt: manifest.createdAt,
      adminUser: spec.site.adminUser,
      passwordShown: true,
    });
    return {
      spec,
      manifest,
      reusedSecrets,
      replayed: steps ? { lastGtid: steps.lastReplayed, transactions: steps.transactions } : null,
    };
  } catch (error) {
    if (layout.serviceRoot !== intoDir) await rm(layout.serviceRoot, { recursive: true, force: true });
    if (createdFolder) await rm(intoDir, { recursive: true, force: true });
    else
      for (const entry of await readdir(intoDir))
        await rm(join(intoDir, entry), { recursive: true, force: true });
    throw new HapressError(`restoring ${backupDir} into ${intoDir} failed; nothing was kept`, {
      cause: error,
    });
  }
}

/** The archive beside a backup (`<backup folder>/../<manifest.archive>`) and the replay to `target`, or a clear refusal. */
async function planTargetReplay(
  backupDir: string,
  manifest: BackupManifest,
  target: RecoveryTarget,
  archiveCompleteness?: () => Promise<ArchiveCompleteness | null>,
): Promise<Extract<ReplayPlan, { ok: true }>> {
  if (target.kind === "time" && target.time * 1000 <= Date.parse(manifest.createdAt))
    throw new InputError(
      `--to-time ${new Date(target.time * 1000).toISOString()}: before the backup (taken ${manifest.createdAt}); pick an earlier backup ('hapress backups') or a later time`,
    );
  const archiveDir = join(backupDir, "..", manifest.archive ?? DEFAULT_ARCHIVE);
  // The primary first, the archive after: what the archive holds then includes what the primary had.
  const complete = target.kind === "time" ? ((await archiveCompleteness?.()) ?? undefined) : undefined;
  const segments = await scanArchive(archiveDir);
  if (segments.length === 0)
    throw new InputError(
      `${archiveDir}: no binary log archive beside this backup, so no point in time after it can be restored`,
    );
  const plan = planReplay(segments, manifest.gtid, target, complete);
  if (!plan.ok) throw new InputError(`${archiveDir}: ${plan.problem}`);
  return plan;
}

/** `--to-time`: an ISO 8601 time with its zone, in whole seconds (a binary log's precision). */
export function parseRecoveryTime(text: string): RecoveryTarget {
  const example = "e.g. 2026-11-29T22:40:05Z";
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/.test(text))
    throw new InputError(
      `--to-time ${JSON.stringify(text)}: not an ISO 8601 time in whole seconds with its zone (${example})`,
    );
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new InputError(`--to-time ${JSON.stringify(text)}: not a valid time (${example})`);
  return { kind: "time", time: ms / 1000 };
}

/** `--to-gtid`: one GTID of domain 0 (e.g. 0-101-1234), replayed up to and including it. */
export function parseRecoveryGtid(text: string): RecoveryTarget {
  const gtid = parseGtid(text);
  if (!gtid || gtid.domain !== 0)
    throw new InputError(
      `--to-gtid ${JSON.stringify(text)}: not a GTID of domain 0 (e.g. 0-101-1234, as 'hapress status' shows)`,
    );
  return { kind: "gtid", gtid };
}

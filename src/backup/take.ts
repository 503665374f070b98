import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { cloneFromDonor } from "../agent/clone.js";
import { HapressError } from "../errors.js";
import { currentLayout } from "../platform/local/layout.js";
import { liveStatus } from "../platform/local/site-control.js";
import { readSiteRecord } from "../platform/local/site-record.js";
import { DEFAULT_ARCHIVE } from "./archive-folder.js";
import type { PodStatus, SiteStatus } from "../status/site-status.js";
import { writeFileAtomic } from "../state/files.js";
import { loadSecrets } from "../state/secrets.js";
import { statePaths } from "../state/files.js";
import { AGENT_PORT } from "../topology/topology.js";
import { runProgramChecked } from "../util/process.js";
import { describeTree, MANIFEST_FILE, MANIFEST_FORMAT, type BackupManifest } from "./manifest.js";
import { HAPRESS_VERSION, mariadbVersion } from "./versions.js";

export interface BackupSource {
  pod: PodStatus;
  role: "primary" | "replica";
  /** Why this instance, in words (the output says it). */
  why: string;
}

/**
 * Which instance a backup reads (pure): a ready replica that is streaming, the least behind (the
 * highest ordinal on a tie, the one least likely to be promoted), never loading the primary; the
 * primary only when it has no ready replica, and then the output says so.
 */
export function chooseBackupSource(status: SiteStatus): BackupSource | null {
  const database = status.pods.filter((p) => p.component === "mysql");
  const replicas = database
    .filter((p) => p.role === "replica" && p.ready && p.phase === "running")
    .sort((a, b) => (a.lagSeconds ?? Infinity) - (b.lagSeconds ?? Infinity) || b.name.localeCompare(a.name));
  const replica = replicas[0];
  if (replica) return { pod: replica, role: "replica", why: "a ready replica (the primary is not loaded)" };
  const primary = database.find((p) => p.name === status.primary && p.ready);
  if (primary)
    return { pod: primary, role: "primary", why: "the primary, as it has no ready replica to read from" };
  return null;
}

/** A sortable folder name for a backup taken at `at`: 20261129T224000Z. */
export function backupName(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

export interface TakeBackupOptions {
  stateDir: string;
  /** The folder that holds the site's backups (spec backup.path, resolved). */
  destination: string;
  withSecrets: boolean;
  /** Bytes received so far (database stream), at most once a second. */
  onProgress?: (bytes: number) => void;
  log: (line: string) => void;
  now?: () => Date;
}

export interface TakenBackup {
  dir: string;
  manifest: BackupManifest;
  source: BackupSource;
}

/** What a backup is made of, wherever the site runs. */
export interface BackupInputs {
  site: string;
  source: BackupSource;
  /** Where the source's agent listens. */
  donor: { name: string; address: string; port: number };
  cloneToken: string;
  /** The folder that holds the site's backups. */
  destination: string;
  /** The site's wp-content folder, or null when it has none (no WordPress tier). */
  contentDir: string | null;
  /** The spec file copied as spec.json. */
  specFile: string;
  /** The secrets file copied as secrets.json, or null (the default). */
  secretsFile: string | null;
  /** The archive folder beside the backups that continues this one (manifest.archive). */
  archive: string;
  onProgress?: (bytes: number) => void;
  log: (line: string) => void;
  now?: () => Date;
}

/**
 * Writes one backup: the database from one instance's agent (the stream a new replica clones from,
 * prepared so it can start as it is), then `wp-content`, the spec, and the manifest last. Everything
 * is built in a hidden folder renamed into place when whole: an interrupted backup never looks like
 * a good one.
 */
export async function writeBackup(inputs: BackupInputs): Promise<TakenBackup> {
  const { source } = inputs;
  const startedAt = (inputs.now ?? (() => new Date()))();
  const name = backupName(startedAt);
  const destination = resolve(inputs.destination);
  if (existsSync(join(destination, name)))
    throw new HapressError(`a backup named ${name} already exists in ${destination}; try again in a second`);
  await mkdir(destination, { recursive: true, mode: 0o700 });
  const work = join(destination, `.partial-${name}-${randomBytes(4).toString("hex")}`);
  await mkdir(work, { mode: 0o700 });
  try {
    inputs.log(`reading the database from ${source.pod.name}: ${source.why}`);
    const clone = await cloneFromDonor({
      donor: inputs.donor,
      token: inputs.cloneToken,
      dataDir: join(work, "database"),
      onProgress: inputs.onProgress,
    });
    // Right after the database's end position: what a restore to this backup's GTID would find.
    const content = inputs.contentDir !== null && existsSync(inputs.contentDir) ? inputs.contentDir : null;
    if (content !== null)
      await runProgramChecked("cp", ["-a", "--no-dereference", content, join(work, "wp-content")]);
    await copyFile(inputs.specFile, join(work, "spec.json"));
    if (inputs.secretsFile !== null) await copyFile(inputs.secretsFile, join(work, "secrets.json"));
    const files = await describeTree(work);
    let wpContent: BackupManifest["wpContent"] = null;
    if (content !== null) {
      const contentFiles = Object.entries(files).filter(([file]) => file.startsWith("wp-content/"));
      wpContent = {
        files: contentFiles.length,
        bytes: contentFiles.reduce((sum, [, e]) => sum + e.bytes, 0),
      };
    }
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      site: inputs.site,
      createdAt: startedAt.toISOString(),
      gtid: clone.gtid,
      source: { instance: source.pod.name, role: source.role },
      database: { bytes: clone.bytes, seconds: clone.seconds },
      wpContent,
      withSecrets: inputs.secretsFile !== null,
      archive: inputs.archive,
      versions: { hapress: HAPRESS_VERSION, mariadb: await mariadbVersion() },
      files,
    };
    await writeFileAtomic(join(work, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    const dir = join(destination, name);
    await rename(work, dir);
    return { dir, manifest, source };
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw new HapressError(`the backup of ${inputs.site} failed; nothing was kept`, { cause: error });
  }
}

/** Takes a backup of a running local site (see writeBackup). */
export async function takeBackup(options: TakeBackupOptions): Promise<TakenBackup> {
  const status = await liveStatus(options.stateDir);
  if (!status)
    throw new HapressError(`the site in ${options.stateDir} is not running: run 'hapress up' first`);
  const source = chooseBackupSource(status);
  if (!source)
    throw new HapressError(
      `no database instance of ${status.site} is ready to read a backup from; see 'hapress status'`,
    );
  const paths = statePaths(options.stateDir);
  const secrets = await loadSecrets(paths.secrets);
  const site = await readSiteRecord(paths.site);
  return writeBackup({
    archive: site?.archive ?? DEFAULT_ARCHIVE,
    site: status.site,
    source,
    donor: { name: source.pod.name, address: source.pod.address.split(":")[0] ?? "", port: AGENT_PORT },
    cloneToken: secrets.cloneToken,
    destination: options.destination,
    contentDir: join(currentLayout(options.stateDir).wordpressRoot, "content"),
    specFile: paths.spec,
    secretsFile: options.withSecrets ? paths.secrets : null,
    onProgress: options.onProgress,
    log: options.log,
    now: options.now,
  });
}

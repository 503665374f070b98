import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Spec } from "../spec/schema.js";
import { errorMessage } from "../errors.js";
import type { BackupManifest } from "./manifest.js";
import { readManifest } from "./restore.js";
import { DEFAULT_ARCHIVE, isArchiveFolder } from "./archive-folder.js";
import { longestScheduleGapSeconds } from "./schedule.js";
import type { BackupSnapshot } from "../metrics/backup-metrics.js";

/** The folder holding a site's backups: spec `backup.path` (from the state folder), or `<state>/backups`. */
export function backupRoot(stateDir: string, spec: Pick<Spec, "backup">): string {
  return resolve(stateDir, spec.backup.path ?? "backups");
}

/** The continuous binary-log archive, one segment folder per primary term (`archive`: see SiteRecord). */
export function binlogArchiveDir(
  stateDir: string,
  spec: Pick<Spec, "backup">,
  archive = DEFAULT_ARCHIVE,
): string {
  return join(backupRoot(stateDir, spec), archive);
}

export interface ListedBackup {
  name: string;
  dir: string;
  /** null when the folder has no readable manifest (shown, never restorable). */
  manifest: BackupManifest | null;
  problem: string | null;
}

/** The backups in `root`, oldest first; unfinished ones (hidden `.partial-*` folders) are not listed. */
export async function listBackups(root: string): Promise<ListedBackup[]> {
  if (!existsSync(root)) return [];
  const names = (await readdir(root, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith(".") && !isArchiveFolder(entry.name))
    .map((entry) => entry.name)
    .sort();
  const listed: ListedBackup[] = [];
  for (const name of names) {
    const dir = join(root, name);
    try {
      listed.push({ name, dir, manifest: await readManifest(dir), problem: null });
    } catch (error) {
      listed.push({ name, dir, manifest: null, problem: errorMessage(error) });
    }
  }
  return listed;
}

/**
 * The backups part of the metrics: how many can be restored, the newest, and the schedule with its
 * longest wait (`schedule`: the spec's cron expression, or null).
 */
export async function backupsOverview(
  root: string,
  schedule: string | null,
  now: Date,
): Promise<BackupSnapshot["backups"]> {
  return {
    ...(await restorableBackups(root)),
    schedule:
      schedule === null
        ? null
        : { expression: schedule, longestGapSeconds: longestScheduleGapSeconds(schedule, now) },
  };
}

/** How many backups can be restored, and the newest of them (when it was taken, Unix ms). */
export async function restorableBackups(
  root: string,
): Promise<{ count: number; newest: { name: string; at: number } | null }> {
  const taken = (await listBackups(root))
    .map((backup) => ({
      name: backup.name,
      at: backup.manifest ? Date.parse(backup.manifest.createdAt) : NaN,
    }))
    .filter((backup) => Number.isFinite(backup.at));
  const newest = taken.reduce<(typeof taken)[number] | null>(
    (best, backup) => (best === null || backup.at > best.at ? backup : best),
    null,
  );
  return { count: taken.length, newest };
}

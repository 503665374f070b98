import { existsSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { listBackups } from "./list.js";
import { DEFAULT_ARCHIVE, isArchiveFolder } from "./archive-folder.js";
import type { SegmentRuns } from "./archive-gaps.js";
import { positionOf } from "./replay-plan.js";
import { scanArchiveRuns } from "./replay.js";
import { backupsToPrune, type Retention } from "./schedule.js";

/**
 * Which archive segments no kept backup needs (pure): a restore replays from a backup's GTID on, so a
 * segment whose every transaction is at or before the oldest kept backup's position (domain 0) is
 * history. The newest segment is the one being written: never removed. With no backup, nothing goes
 * (the archive is all there is).
 */
export function segmentsToPrune(segments: readonly SegmentRuns[], oldestKeptGtid: string | null): string[] {
  if (oldestKeptGtid === null) return [];
  const covered = positionOf(oldestKeptGtid).get(0);
  if (covered === undefined) return [];
  return segments
    .slice(0, -1)
    .filter((segment) => segment.runs.every((run) => run.last.seq <= covered))
    .map((segment) => segment.name);
}

/**
 * Applies retention to a backup folder: backups by `keep` (see backupsToPrune), then the segments of
 * the site's archive (`archive`) that only older backups needed, and the archive folders of earlier
 * histories (a restore's) that no kept backup continues. Returns what it removed, for the log.
 */
export async function pruneBackups(
  root: string,
  keep: Retention,
  now: Date,
  archive: string = DEFAULT_ARCHIVE,
): Promise<string[]> {
  const backups = (await listBackups(root)).flatMap((b) =>
    b.manifest
      ? [
          {
            name: b.name,
            dir: b.dir,
            createdAt: b.manifest.createdAt,
            gtid: b.manifest.gtid,
            archive: b.manifest.archive ?? DEFAULT_ARCHIVE,
          },
        ]
      : [],
  );
  const removed: string[] = [];
  const doomed = new Set(backupsToPrune(backups, keep, now));
  for (const backup of backups.filter((b) => doomed.has(b.name))) {
    await rm(backup.dir, { recursive: true, force: true });
    removed.push(`backup ${backup.name}`);
  }
  const kept = backups.filter((b) => !doomed.has(b.name));
  const oldestKept = kept
    .filter((b) => b.archive === archive)
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))[0];
  // Runs, not every transaction: the backup pod's memory stays the same whatever the archive holds.
  const segments = await scanArchiveRuns(join(root, archive));
  for (const name of segmentsToPrune(segments, oldestKept?.gtid ?? null)) {
    await rm(join(root, archive, name), { recursive: true, force: true });
    removed.push(`archive segment ${archive}/${name}`);
  }
  const continued = new Set(kept.map((b) => b.archive));
  const folders = existsSync(root) ? await readdir(root) : [];
  for (const folder of folders.filter((f) => isArchiveFolder(f) && f !== archive && !continued.has(f))) {
    await rm(join(root, folder), { recursive: true, force: true });
    removed.push(`archive ${folder} (no kept backup continues it)`);
  }
  return removed;
}

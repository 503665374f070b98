import { rm } from "node:fs/promises";
import { join } from "node:path";
import { listBackups } from "./list.js";
import { positionOf, type ArchivedSegment } from "./replay-plan.js";
import { scanArchive } from "./replay.js";
import { backupsToPrune, type Retention } from "./schedule.js";

/**
 * Which archive segments no kept backup needs (pure): a restore replays from a backup's GTID on, so a
 * segment whose every transaction is at or before the oldest kept backup's position (domain 0) is
 * history. The newest segment is the one being written: never removed. With no backup, nothing goes
 * (the archive is all there is).
 */
export function segmentsToPrune(
  segments: readonly ArchivedSegment[],
  oldestKeptGtid: string | null,
): string[] {
  if (oldestKeptGtid === null) return [];
  const covered = positionOf(oldestKeptGtid).get(0);
  if (covered === undefined) return [];
  return segments
    .slice(0, -1)
    .filter((segment) => segment.transactions.every((t) => t.gtid.domain !== 0 || t.gtid.seq <= covered))
    .map((segment) => segment.name);
}

/**
 * Applies retention to a backup folder: backups by `keep` (see backupsToPrune), then the archive
 * segments that only older backups needed. Returns what it removed, for the caller to log.
 */
export async function pruneBackups(root: string, keep: Retention, now: Date): Promise<string[]> {
  const backups = (await listBackups(root)).flatMap((b) =>
    b.manifest ? [{ name: b.name, dir: b.dir, createdAt: b.manifest.createdAt, gtid: b.manifest.gtid }] : [],
  );
  const removed: string[] = [];
  const doomed = new Set(backupsToPrune(backups, keep, now));
  for (const backup of backups.filter((b) => doomed.has(b.name))) {
    await rm(backup.dir, { recursive: true, force: true });
    removed.push(`backup ${backup.name}`);
  }
  const oldestKept = backups
    .filter((b) => !doomed.has(b.name))
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))[0];
  const archive = join(root, "binlogs");
  const segments = await scanArchive(archive);
  for (const name of segmentsToPrune(segments, oldestKept?.gtid ?? null)) {
    await rm(join(archive, name), { recursive: true, force: true });
    removed.push(`archive segment ${name}`);
  }
  return removed;
}

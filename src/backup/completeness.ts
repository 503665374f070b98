import { resolve } from "node:path";
import { connectSql } from "../mysql/client.js";
import { liveStatus } from "../platform/local/site-control.js";
import { loadSecrets } from "../state/secrets.js";
import { statePaths } from "../state/files.js";
import { ADMIN_PORT } from "../topology/topology.js";
import { backupRoot } from "./list.js";
import { positionOf, type ArchiveCompleteness } from "./replay-plan.js";
import type { Spec } from "../spec/schema.js";

/**
 * How long a statement may have been running when the primary was asked: its transaction carries its
 * start time but commits after, so only times this much earlier count as complete.
 */
export const STATEMENT_MARGIN_SECONDS = 10;

/**
 * When the backup belongs to the site running in `stateDir`: its primary's position now, so a restore
 * can tell a quiet archive (it holds that position) from a lagging one. null otherwise, or when the
 * primary does not answer (the restore then refuses a time past the archive, as it must).
 */
export async function liveArchiveCompleteness(
  stateDir: string,
  spec: Pick<Spec, "backup">,
  backupDir: string,
  now: () => number = Date.now,
): Promise<ArchiveCompleteness | null> {
  if (resolve(backupDir, "..") !== backupRoot(stateDir, spec)) return null;
  const status = await liveStatus(stateDir).catch(() => null);
  const primary = status?.pods.find((p) => p.name === status.primary && p.ready);
  if (!primary) return null;
  const secrets = await loadSecrets(statePaths(stateDir).secrets);
  const askedAt = now();
  try {
    const session = await connectSql(
      { host: primary.address.split(":")[0] ?? "", port: ADMIN_PORT },
      { user: secrets.adminUser, password: secrets.adminPassword },
      { connectTimeoutMs: 2000, queryTimeoutMs: 5000 },
    );
    try {
      const [row] = await session.query("SELECT @@global.gtid_binlog_pos AS pos");
      const seq = positionOf(typeof row?.pos === "string" ? row.pos : "").get(0);
      return seq === undefined ? null : { seq, time: Math.floor(askedAt / 1000) - STATEMENT_MARGIN_SECONDS };
    } finally {
      await session.close();
    }
  } catch {
    return null;
  }
}

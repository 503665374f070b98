export interface DonorCandidate {
  name: string;
  ready: boolean;
  /** Its data folder exists (a pod being re-cloned has none). */
  hasData: boolean;
  /**
   * Seconds behind its primary while it streams from it (I/O and SQL threads running); null when it
   * does not stream or cannot tell.
   */
  lagSeconds: number | null;
}

/** How far behind a replica may be and still give its data: it catches up from the primary after. */
export const MAX_DONOR_LAG_SECONDS = 5;

/**
 * Which instance a new or re-cloned pod copies (pure; both targets). A ready replica that is
 * streaming, the least behind, first: `mariadb-backup` ends with BACKUP STAGE BLOCK_COMMIT, which
 * holds every commit of its server for as long as the last files take to copy; on the primary that
 * was a write outage of about a second after each failover that re-cloned the old primary (found by
 * `hapress chaos`). The primary only when no replica can give, then any ready instance with data.
 */
export function chooseDonor(
  candidates: DonorCandidate[],
  primary: string | null,
  forPod: string,
): string | null {
  const others = candidates.filter((c) => c.name !== forPod && c.ready && c.hasData);
  const streaming = others
    .filter((c) => c.name !== primary && c.lagSeconds !== null && c.lagSeconds <= MAX_DONOR_LAG_SECONDS)
    .sort((a, b) => (a.lagSeconds ?? 0) - (b.lagSeconds ?? 0) || a.name.localeCompare(b.name));
  const replica = streaming[0];
  if (replica) return replica.name;
  if (others.some((c) => c.name === primary)) return primary;
  return others[0]?.name ?? null;
}

/** A replica's lag as chooseDonor reads it, from its SHOW SLAVE STATUS: null unless both threads run. */
export function streamingLag(
  state: {
    replication: { ioRunning: string; sqlRunning: boolean; secondsBehindMaster: number | null } | null;
  } | null,
): number | null {
  const replication = state?.replication;
  if (!replication || replication.ioRunning !== "Yes" || !replication.sqlRunning) return null;
  return replication.secondsBehindMaster;
}

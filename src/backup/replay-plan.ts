/**
 * Point-in-time recovery, the decision part (pure): which archived transactions to replay on top of a
 * backup. The archive holds one segment per primary (a failover starts a new one, from the new
 * primary's own binary logs, which repeat what it had replicated), so segments overlap; GTIDs say
 * what each transaction is, and in one domain they follow each other without a hole (seq_no + 1),
 * whichever server wrote them. A hole between the backup and the target is a gap the restore refuses.
 */

export interface Gtid {
  domain: number;
  server: number;
  seq: number;
}

export interface ArchivedTransaction {
  gtid: Gtid;
  /** The binary log event's time, in whole seconds since the epoch (its precision). */
  time: number;
}

export interface ArchivedSegment {
  /** The segment's folder name, e.g. 000003-mysql-1 (epoch, then the primary). */
  name: string;
  files: string[];
  transactions: ArchivedTransaction[];
}

export type RecoveryTarget = { kind: "time"; time: number } | { kind: "gtid"; gtid: Gtid };

export interface ReplayStep {
  segment: string;
  files: string[];
  /** Exclusive: replay what comes after this position ("" for from the start). */
  startAfter: string;
  /** Inclusive: the last transaction to replay from this segment. */
  stopAt: string;
  transactions: number;
}

export type ReplayPlan =
  | { ok: true; steps: ReplayStep[]; lastReplayed: string | null; transactions: number }
  | { ok: false; problem: string };

export function parseGtid(text: string): Gtid | null {
  const match = /^(\d+)-(\d+)-(\d+)$/.exec(text.trim());
  if (!match) return null;
  return { domain: Number(match[1]), server: Number(match[2]), seq: Number(match[3]) };
}

export function formatGtid(gtid: Gtid): string {
  return `${gtid.domain}-${gtid.server}-${gtid.seq}`;
}

/**
 * A backup's GTID position (gtid_binlog_pos form, one GTID per domain) as the last seq_no per
 * domain. Only domain 0 is written by hapress sites; another domain is refused by the caller.
 */
export function positionOf(text: string): Map<number, number> {
  const position = new Map<number, number>();
  for (const part of text.split(",").filter((p) => p.trim() !== "")) {
    const gtid = parseGtid(part);
    if (gtid) position.set(gtid.domain, Math.max(position.get(gtid.domain) ?? 0, gtid.seq));
  }
  return position;
}

function describeTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
}

/**
 * What the running primary said before the archive was read: its position (domain 0's seq) at `time`
 * (seconds). An archive holding that position holds everything written until then, so a time after
 * its last transaction but not after `time` is a point it can restore (a quiet site writes nothing).
 */
export interface ArchiveCompleteness {
  seq: number;
  time: number;
}

/**
 * Plans the replay from a backup at `from` (its GTID position) to `target`: every transaction after
 * the backup, up to the target (a time: those strictly before it; a GTID: up to and including it),
 * each taken from the first segment that holds it, checked for holes.
 */
export function planReplay(
  segments: ArchivedSegment[],
  from: string,
  target: RecoveryTarget,
  complete?: ArchiveCompleteness,
): ReplayPlan {
  const position = positionOf(from);
  if ([...position.keys()].some((domain) => domain !== 0))
    return {
      ok: false,
      problem: `the backup's position ${from} has GTID domains other than 0, which hapress never writes`,
    };
  let last = position.get(0) ?? 0;
  let lastGtid: string | null = null;
  // mariadb-binlog's start position names whole GTIDs: the backup's own, then the last one replayed.
  let positionText =
    from
      .split(",")
      .find((part) => parseGtid(part)?.domain === 0)
      ?.trim() ?? "";
  let lastTime: number | null = null;
  const steps: ReplayStep[] = [];
  let total = 0;
  let reached = false;
  for (const segment of segments) {
    const startAfter = positionText;
    let count = 0;
    let stopAt: string | null = null;
    for (const transaction of segment.transactions) {
      const { gtid } = transaction;
      if (gtid.domain !== 0)
        return {
          ok: false,
          problem: `${segment.name} holds a transaction in GTID domain ${gtid.domain}, which hapress never writes`,
        };
      if (gtid.seq <= last) continue;
      if (target.kind === "time" && transaction.time >= target.time) {
        reached = true;
        break;
      }
      if (target.kind === "gtid" && gtid.seq > target.gtid.seq) {
        reached = true;
        break;
      }
      if (gtid.seq !== last + 1)
        return {
          ok: false,
          problem: `the binary log archive has a gap: after ${positionText || "the backup"} the next transaction it holds is ${formatGtid(gtid)} (in ${segment.name}); transactions ${last + 1} to ${gtid.seq - 1} are missing, so no restore can go past ${lastTime === null ? "the backup" : describeTime(lastTime)}`,
        };
      last = gtid.seq;
      lastGtid = formatGtid(gtid);
      positionText = lastGtid;
      lastTime = transaction.time;
      stopAt = lastGtid;
      count++;
    }
    if (count > 0 && stopAt)
      steps.push({
        segment: segment.name,
        files: segment.files,
        startAfter,
        stopAt,
        transactions: count,
      });
    total += count;
    if (reached) break;
  }
  if (target.kind === "gtid" && last < target.gtid.seq)
    return {
      ok: false,
      problem: `GTID ${formatGtid(target.gtid)} is not in the archive (it reaches ${lastGtid ?? from}); nothing was restored`,
    };
  const quietUntilTarget =
    complete !== undefined && target.kind === "time" && last >= complete.seq && target.time <= complete.time;
  if (target.kind === "time" && !reached && !quietUntilTarget)
    return {
      ok: false,
      problem: `the archive ends before ${describeTime(target.time)} (its last transaction is ${lastGtid ?? from}${lastTime === null ? "" : ` at ${describeTime(lastTime)}`}); pick an earlier time, or wait until the archive has caught up${complete === undefined ? " (with the site running, a quiet archive is told from a lagging one)" : ""}`,
    };
  return { ok: true, steps, lastReplayed: lastGtid, transactions: total };
}

/**
 * The transactions in `mariadb-binlog` text output (run with TZ=UTC): each starts with a GTID event,
 * `#261129 22:40:05 server id 100  end_log_pos 432 CRC32 0x…  GTID 0-100-7 trans`.
 */
export function parseBinlogTransactions(text: string): ArchivedTransaction[] {
  const transactions: ArchivedTransaction[] = [];
  const pattern =
    /^#(\d{2})(\d{2})(\d{2})\s+(\d{1,2}):(\d{2}):(\d{2}) server id \d+\s+end_log_pos \d+.*\sGTID (\d+-\d+-\d+)/;
  for (const line of text.split("\n")) {
    const match = pattern.exec(line);
    if (!match) continue;
    const [, yy, mm, dd, hh, mi, ss, gtidText] = match;
    const gtid = parseGtid(gtidText ?? "");
    if (!gtid) continue;
    const time =
      Date.UTC(2000 + Number(yy), Number(mm) - 1, Number(dd), Number(hh), Number(mi), Number(ss)) / 1000;
    transactions.push({ gtid, time });
  }
  return transactions;
}

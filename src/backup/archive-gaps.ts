import { formatGtid, type ArchivedSegment, type Gtid } from "./replay-plan.js";

/** A hole in the archive: transactions after `after` and before `next` were never copied. */
export interface ArchiveGap {
  /** The last transaction before the hole (domain 0). */
  after: string;
  /** The first transaction after it. */
  next: string;
  /** The segment where the archive resumes. */
  segment: string;
}

/**
 * The holes in the archive (pure): walking the segments in order, domain 0's sequence numbers must
 * follow each other (a segment may repeat what an earlier one holds: a new primary's logs start with
 * what it had replicated). Where the archive begins is not a hole: it starts where it starts. A
 * restore across a hole is refused; the supervisor reports each one in `status` and as an event.
 */
export function archiveGaps(segments: readonly ArchivedSegment[]): ArchiveGap[] {
  const gaps: ArchiveGap[] = [];
  let last: Gtid | null = null;
  for (const segment of segments) {
    for (const { gtid } of segment.transactions) {
      if (gtid.domain !== 0) continue;
      if (last !== null && gtid.seq <= last.seq) continue;
      if (last !== null && gtid.seq > last.seq + 1)
        gaps.push({ after: formatGtid(last), next: formatGtid(gtid), segment: segment.name });
      last = gtid;
    }
  }
  return gaps;
}

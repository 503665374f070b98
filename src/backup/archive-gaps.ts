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
 * Domain 0's transactions of a file or a segment, as runs of sequence numbers that follow each other
 * (`first` to `last`, each one more than the one before). All the gap check needs: a long-running
 * archiver keeps these, a handful per file, rather than one object per transaction, which outgrew
 * the archiver pod's memory once the archive held dozens of segments of a busy site's writes (each
 * new primary's segment repeats the logs it had replicated).
 */
export interface GtidRun {
  first: Gtid;
  last: Gtid;
}

/** Adds a transaction to the runs (pure, in place): it extends the last run or starts one. */
export function addToRuns(runs: GtidRun[], gtid: Gtid): void {
  if (gtid.domain !== 0) return;
  const current = runs.at(-1);
  if (current && gtid.seq === current.last.seq + 1) current.last = gtid;
  else runs.push({ first: gtid, last: gtid });
}

/** A segment as the gap check sees it: its name and domain 0's runs, in the order written. */
export interface SegmentRuns {
  name: string;
  runs: readonly GtidRun[];
}

/**
 * The holes in the archive (pure): walking the segments in order, domain 0's sequence numbers must
 * follow each other (a segment may repeat what an earlier one holds: a new primary's logs start with
 * what it had replicated). Where the archive begins is not a hole: it starts where it starts. A
 * restore across a hole is refused; the supervisor reports each one in `status` and as an event.
 */
export function gapsInRuns(segments: readonly SegmentRuns[]): ArchiveGap[] {
  const gaps: ArchiveGap[] = [];
  let last: Gtid | null = null;
  for (const segment of segments) {
    for (const run of segment.runs) {
      if (last !== null && run.last.seq <= last.seq) continue; // held already
      // A run that overlaps what is held continues it; one that starts further on leaves a hole.
      if (last !== null && run.first.seq > last.seq + 1)
        gaps.push({ after: formatGtid(last), next: formatGtid(run.first), segment: segment.name });
      last = run.last;
    }
  }
  return gaps;
}

/** The holes in segments read whole (the one-off commands' scan, see gapsInRuns). */
export function archiveGaps(segments: readonly ArchivedSegment[]): ArchiveGap[] {
  return gapsInRuns(
    segments.map((segment) => {
      const runs: GtidRun[] = [];
      for (const { gtid } of segment.transactions) addToRuns(runs, gtid);
      return { name: segment.name, runs };
    }),
  );
}

import { errorMessage } from "../errors.js";
import { gapsInRuns, type ArchiveGap } from "./archive-gaps.js";
import { scanArchiveRuns, type ArchiveRunsCache } from "./replay.js";

/** How often the archive is checked for holes (only files that changed are read again). */
export const GAP_CHECK_INTERVAL_MS = 30_000;

/**
 * Looks for holes in a binary-log archive in the background, at most every GAP_CHECK_INTERVAL_MS and
 * never two checks at once (the segment being written is read again each time), and says each new
 * hole once. Used by the local supervisor and by the archiver pod on Kubernetes.
 */
export class ArchiveGapWatch {
  private readonly scanned: ArchiveRunsCache = new Map();
  private found: ArchiveGap[] = [];
  private checking = false;
  private lastCheck = -Infinity;

  constructor(
    private readonly deps: {
      now: () => number;
      log: (message: string) => void;
      onGap: (gap: ArchiveGap) => void;
    },
  ) {}

  /** The holes the last check found. */
  gaps(): ArchiveGap[] {
    return this.found;
  }

  checkWhenDue(archiveDir: string): void {
    if (this.checking || this.deps.now() - this.lastCheck < GAP_CHECK_INTERVAL_MS) return;
    this.checking = true;
    this.lastCheck = this.deps.now();
    void scanArchiveRuns(archiveDir, this.scanned)
      .then((segments) => {
        const gaps = gapsInRuns(segments);
        const known = new Set(this.found.map((g) => `${g.after}>${g.next}`));
        for (const gap of gaps) if (!known.has(`${gap.after}>${gap.next}`)) this.deps.onGap(gap);
        this.found = gaps;
      })
      .catch((error: unknown) =>
        this.deps.log(`checking the binary log archive failed: ${errorMessage(error)}`),
      )
      .finally(() => (this.checking = false));
  }
}

import { dirname, join } from "node:path";
import { Registry } from "prom-client";
import { segmentLagBytes } from "../../backup/binlog-archiver.js";
import { ArchiveGapWatch } from "../../backup/gap-watch.js";
import { backupsOverview } from "../../backup/list.js";
import { BackupMetrics } from "../../metrics/backup-metrics.js";
import { MYSQL_PORT } from "../../topology/topology.js";

/**
 * The archiver pod's /metrics on Kubernetes: the backups on the backup claim (the folder above the
 * archive) and the archive itself, as the local supervisor serves them. The archiver is the one pod
 * that mounts the claim all the time, so it speaks for the backups too.
 */
export class ArchiverMetrics {
  private readonly registry = new Registry();
  private readonly metrics: BackupMetrics;
  private readonly gapWatch: ArchiveGapWatch;
  private streaming: { segment: string; address: string } | null = null;

  constructor(
    private readonly input: {
      archiveDir: string;
      /** The spec's backup schedule (the CronJob's), or null. */
      schedule: string | null;
      credentials: { user: string; password: string };
      log: (line: string) => void;
    },
  ) {
    this.metrics = new BackupMetrics([this.registry], Date.now());
    this.gapWatch = new ArchiveGapWatch({
      now: () => Date.now(),
      log: input.log,
      onGap: (gap) =>
        input.log(
          `the binary log archive has a gap: nothing between ${gap.after} and ${gap.next} (segment ${gap.segment})`,
        ),
    });
  }

  /** After each archiver round: what it streams now; the archive is checked for holes when due. */
  round(streaming: { segment: string; address: string } | null): void {
    this.streaming = streaming;
    this.gapWatch.checkWhenDue(this.input.archiveDir);
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    const streaming = this.streaming;
    const bytes = streaming
      ? await segmentLagBytes(
          join(this.input.archiveDir, streaming.segment),
          { host: streaming.address, port: MYSQL_PORT },
          this.input.credentials,
        ).catch(() => null)
      : null;
    this.metrics.update({
      backups: await backupsOverview(dirname(this.input.archiveDir), this.input.schedule, new Date()),
      archive: {
        enabled: true,
        following: streaming?.segment ?? null,
        gaps: this.gapWatch.gaps().length,
        lag: streaming && bytes !== null ? { segment: streaming.segment, bytes } : null,
      },
    });
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

import { Gauge, type Registry } from "prom-client";

/** What is known of a site's backups and its binary-log archive at a scrape (both targets). */
export interface BackupSnapshot {
  backups: {
    /** Restorable backups (a readable manifest). */
    count: number;
    /** The newest restorable backup: its name and when it was taken (Unix ms); null with none. */
    newest: { name: string; at: number } | null;
    /** The schedule and its longest wait between two backups (seconds); null when none is scheduled. */
    schedule: { expression: string; longestGapSeconds: number } | null;
  };
  archive: {
    enabled: boolean;
    /** The segment an archiver is writing now; null when none runs. */
    following: string | null;
    /** Holes found in the archive (no point inside one can be restored). */
    gaps: number;
    /** Bytes of the primary's binary logs the segment being written lacks; null when not archiving (or unknown). */
    lag: { segment: string; bytes: number } | null;
  };
}

/**
 * Backups and the archive in Prometheus terms, in the registries given: the local supervisor's and
 * the Kubernetes archiver pod's. The gauges that may be absent carry a label: a series without
 * labels cannot be absent in prom-client (it reads 0, and a newest backup "taken in 1970" would page
 * someone).
 */
export class BackupMetrics {
  private readonly backups: Gauge;
  private readonly newestBackup: Gauge;
  private readonly scheduleGap: Gauge;
  private readonly archiveEnabled: Gauge;
  private readonly archiving: Gauge;
  private readonly archiveGaps: Gauge;
  private readonly archiveLag: Gauge;

  /** `startedAt`: when the serving process started (Unix ms); an alert waits for a first backup from then. */
  constructor(registers: Registry[], startedAt: number) {
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers });
    gauge(
      "hapress_metrics_start_time_seconds",
      "When the process serving these metrics started (Unix time): its counters count from then",
    ).set(startedAt / 1000);
    this.backups = gauge("hapress_backups", "Restorable backups in the backup folder");
    this.newestBackup = gauge(
      "hapress_backup_newest_timestamp_seconds",
      "When the newest restorable backup was taken (Unix time); absent with none",
      ["backup"],
    );
    this.scheduleGap = gauge(
      "hapress_backup_schedule_max_interval_seconds",
      "The longest wait between two scheduled backups; absent when none is scheduled",
      ["schedule"],
    );
    this.archiveEnabled = gauge(
      "hapress_binlog_archive_enabled",
      "1 when the spec asks for the binary-log archive",
    );
    this.archiving = gauge(
      "hapress_binlog_archive_running",
      "1 when an archiver follows the recorded primary",
    );
    this.archiveGaps = gauge(
      "hapress_binlog_archive_gaps",
      "Holes in the binary-log archive: no point inside one can be restored",
    );
    this.archiveLag = gauge(
      "hapress_binlog_archive_lag_bytes",
      "Bytes of the primary's binary logs the archive does not hold yet; absent when not archiving",
      ["segment"],
    );
  }

  update(snapshot: BackupSnapshot): void {
    const { newest, schedule } = snapshot.backups;
    this.backups.set(snapshot.backups.count);
    setOnly(this.newestBackup, newest && { labels: { backup: newest.name }, value: newest.at / 1000 });
    setOnly(
      this.scheduleGap,
      schedule && { labels: { schedule: schedule.expression }, value: schedule.longestGapSeconds },
    );
    const { archive } = snapshot;
    this.archiveEnabled.set(archive.enabled ? 1 : 0);
    this.archiving.set(archive.following ? 1 : 0);
    this.archiveGaps.set(archive.gaps);
    setOnly(
      this.archiveLag,
      archive.lag && { labels: { segment: archive.lag.segment }, value: archive.lag.bytes },
    );
  }
}

/** Leaves the gauge with this one series, or none. */
export function setOnly(
  gauge: Gauge,
  sample: { labels: Record<string, string>; value: number } | null,
): void {
  gauge.reset();
  if (sample) gauge.set(sample.labels, sample.value);
}

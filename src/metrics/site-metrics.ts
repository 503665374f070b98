import { Counter, Gauge, Registry } from "prom-client";
import type { SiteStatus } from "../platform/local/status.js";
import type { CacheCounts } from "../wordpress/page-cache.js";

/**
 * What the local supervisor knows at a scrape: the site's status (the same object `hapress status`
 * prints, so status shows nothing these metrics do not), each WordPress pod's page-cache counts, the
 * backups and the binary-log archive.
 */
export interface SiteSnapshot {
  status: SiteStatus;
  pageCache: ReadonlyMap<string, CacheCounts>;
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
    /** Bytes of the primary's binary logs the segment being written lacks; null when not archiving (or unknown). */
    lag: { segment: string; bytes: number } | null;
  };
}

/**
 * The supervisor's metrics in Prometheus terms: pods and their restarts, the page cache by pod,
 * backups and the archive. A counter the supervisor keeps as a running total (restarts, cache
 * answers) is raised by the difference since the last scrape; a total that went down (a pod removed
 * and made again) restarts its series, which Prometheus' rate() reads as a counter reset.
 */
export class SiteMetrics {
  readonly registry = new Registry();
  private readonly ready: Gauge;
  private readonly epoch: Gauge;
  private readonly podReady: Gauge;
  private readonly podInfo: Gauge;
  private readonly restarts: Counter;
  private readonly connections: Gauge;
  private readonly maxConnections: Gauge;
  private readonly refused: Counter;
  private readonly cacheRequests: Counter;
  private readonly cacheTtl: Gauge;
  private readonly backups: Gauge;
  private readonly newestBackup: Gauge;
  private readonly scheduleGap: Gauge;
  private readonly archiveEnabled: Gauge;
  private readonly archiving: Gauge;
  private readonly archiveGaps: Gauge;
  private readonly archiveLag: Gauge;
  /** Each counter's last running total per label set. */
  private readonly totals = new Map<Counter, Map<string, number>>();

  /** `startedAt`: when the supervisor started (Unix ms); an alert waits for a first backup from then. */
  constructor(startedAt: number) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers });
    const counter = (name: string, help: string, labelNames: string[]) =>
      new Counter({ name, help, labelNames, registers });
    gauge(
      "hapress_supervisor_start_time_seconds",
      "When the supervisor started (Unix time): its counters count from then",
    ).set(startedAt / 1000);
    this.ready = gauge(
      "hapress_site_ready",
      "1 when every pod is ready and writes are semi-synchronous (as status says)",
    );
    this.epoch = gauge(
      "hapress_primary_epoch",
      "The primary record's epoch: one more at each failover or switchover; absent before the first primary",
      ["primary"],
    );
    this.podReady = gauge("hapress_pod_ready", "1 when the pod is ready", ["pod", "component"]);
    this.podInfo = gauge(
      "hapress_pod_info",
      "1 for each pod, with its role (primary, replica or none) and phase (running, cloning, crashloop…)",
      ["pod", "component", "role", "phase"],
    );
    this.restarts = counter(
      "hapress_pod_restarts_total",
      "Restarts of the pod's processes by the supervisor since it started (a crash loop shows here)",
      ["pod", "component"],
    );
    this.connections = gauge("hapress_instance_connections", "Client sessions open on the instance", ["pod"]);
    this.maxConnections = gauge("hapress_instance_max_connections", "The instance's client limit", ["pod"]);
    this.refused = counter(
      "hapress_instance_connections_refused_total",
      "Connections the instance refused (no free slot, or a failed login) since it started",
      ["pod"],
    );
    this.cacheRequests = counter(
      "hapress_page_cache_requests_total",
      "Page requests by what the pod's cache did: hit, stale (served while PHP or the database failed), miss, bypass (never cacheable)",
      ["pod", "result"],
    );
    this.cacheTtl = gauge(
      "hapress_page_cache_ttl_seconds",
      "How long a cached page stays fresh (0: cache off)",
    );
    this.backups = gauge("hapress_backups", "Restorable backups in the backup folder");
    // Labelled gauges below: a series without labels cannot be absent in prom-client (it reads 0,
    // and a newest backup "taken in 1970" would page someone).
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

  update(snapshot: SiteSnapshot): void {
    const { status } = snapshot;
    this.ready.set(status.ready ? 1 : 0);
    const { primary, primaryEpoch } = status;
    setOnly(
      this.epoch,
      primary !== null && primaryEpoch !== null ? { labels: { primary }, value: primaryEpoch } : null,
    );
    for (const gauge of [this.podReady, this.podInfo, this.connections, this.maxConnections]) gauge.reset();
    for (const pod of status.pods) {
      const labels = { pod: pod.name, component: pod.component };
      this.podReady.set(labels, pod.ready ? 1 : 0);
      this.podInfo.set({ ...labels, role: pod.role ?? "none", phase: pod.phase }, 1);
      this.raise(this.restarts, labels, pod.restarts);
      if (pod.connections) {
        this.connections.set({ pod: pod.name }, pod.connections.inUse);
        this.maxConnections.set({ pod: pod.name }, pod.connections.limit);
        this.raise(this.refused, { pod: pod.name }, pod.connections.refused);
      }
    }
    this.cacheTtl.set(status.pageCache?.enabled ? status.pageCache.ttlSeconds : 0);
    for (const [pod, counts] of snapshot.pageCache)
      for (const result of ["hit", "stale", "miss", "bypass"] as const)
        this.raise(this.cacheRequests, { pod, result }, counts[result]);
    this.backups.set(snapshot.backups.count);
    const { newest, schedule } = snapshot.backups;
    setOnly(this.newestBackup, newest && { labels: { backup: newest.name }, value: newest.at / 1000 });
    setOnly(
      this.scheduleGap,
      schedule && { labels: { schedule: schedule.expression }, value: schedule.longestGapSeconds },
    );
    this.archiveEnabled.set(snapshot.archive.enabled ? 1 : 0);
    this.archiving.set(status.backup?.archiving ? 1 : 0);
    this.archiveGaps.set(status.backup?.gaps.length ?? 0);
    const { lag } = snapshot.archive;
    setOnly(this.archiveLag, lag && { labels: { segment: lag.segment }, value: lag.bytes });
  }

  /** The text format Prometheus scrapes, and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Brings a counter to a running total kept elsewhere (see the class comment). */
  private raise(counter: Counter, labels: Record<string, string>, total: number): void {
    const totals = this.totals.get(counter) ?? new Map<string, number>();
    this.totals.set(counter, totals);
    const key = JSON.stringify(labels);
    const last = totals.get(key);
    if (last === undefined || total < last) {
      counter.remove(labels);
      counter.inc(labels, total);
    } else if (total > last) counter.inc(labels, total - last);
    totals.set(key, total);
  }
}

/** Leaves the gauge with this one series, or none. */
function setOnly(gauge: Gauge, sample: { labels: Record<string, string>; value: number } | null): void {
  gauge.reset();
  if (sample) gauge.set(sample.labels, sample.value);
}

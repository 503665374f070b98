import { Counter, Gauge, Registry } from "prom-client";
import type { SiteStatus } from "../status/site-status.js";
import type { CacheCounts } from "../wordpress/page-cache.js";
import { BackupMetrics, setOnly, type BackupSnapshot } from "./backup-metrics.js";

/**
 * What the local supervisor knows at a scrape: the site's status (the same object `hapress status`
 * prints, so status shows nothing these metrics do not), each WordPress pod's page-cache counts, the
 * backups and the binary-log archive.
 */
export interface SiteSnapshot {
  status: SiteStatus;
  pageCache: ReadonlyMap<string, CacheCounts>;
  backup: BackupSnapshot;
}

/**
 * The supervisor's metrics in Prometheus terms: pods and their restarts, the page cache by pod,
 * backups and the archive (BackupMetrics, shared with the Kubernetes archiver). A counter the supervisor keeps as a running total (restarts, cache
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
  private readonly backup: BackupMetrics;
  /** Each counter's last running total per label set. */
  private readonly totals = new Map<Counter, Map<string, number>>();

  /** `startedAt`: when the supervisor started (Unix ms); an alert waits for a first backup from then. */
  constructor(startedAt: number) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers });
    const counter = (name: string, help: string, labelNames: string[]) =>
      new Counter({ name, help, labelNames, registers });
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
    this.backup = new BackupMetrics(registers, startedAt);
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
    this.backup.update(snapshot.backup);
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

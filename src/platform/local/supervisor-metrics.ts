import { backupsOverview } from "../../backup/list.js";
import { RetryingMetricsEndpoint } from "../../metrics/retrying-endpoint.js";
import { SiteMetrics, type SiteSnapshot } from "../../metrics/site-metrics.js";
import type { Spec } from "../../spec/schema.js";
import type { SiteStatus } from "../../status/site-status.js";
import type { BinlogArchiveKeeper } from "./binlog-archive-keeper.js";

/**
 * The site's /metrics (the supervisor's part: pods, roles, the page cache, backups, the archive),
 * built at each scrape from a snapshot the supervisor gives, on the site's metrics address. Bound on
 * the first call to `serve` and retried at each later one while the port is taken: metrics never stop
 * the supervisor from keeping the site.
 */
export class SupervisorMetrics {
  private readonly metrics = new SiteMetrics(Date.now());
  private endpoint: RetryingMetricsEndpoint | null = null;

  constructor(
    private readonly snapshot: () => Promise<SiteSnapshot>,
    private readonly log: (message: string) => void,
  ) {}

  serve(address: string, port: number): void {
    this.endpoint ??= new RetryingMetricsEndpoint(
      address,
      port,
      async () => {
        this.metrics.update(await this.snapshot());
        return this.metrics.exposition();
      },
      this.log,
    );
    void this.endpoint.ensure();
  }

  close(): void {
    this.endpoint?.close();
  }
}

/** One scrape's snapshot: the status, the page-cache counts, backups and the archive's state and lag. */
export async function siteMetricsSnapshot(inputs: {
  status: SiteStatus;
  pageCache: SiteSnapshot["pageCache"];
  backupRoot: string;
  spec: Spec;
  archive: Pick<BinlogArchiveKeeper, "following" | "gaps">;
  /** The archive's lag behind the primary (null: no primary, or it cannot be read now). */
  lag: () => Promise<SiteSnapshot["backup"]["archive"]["lag"]>;
}): Promise<SiteSnapshot> {
  return {
    status: inputs.status,
    pageCache: inputs.pageCache,
    backup: {
      backups: await backupsOverview(inputs.backupRoot, inputs.spec.backup.schedule ?? null, new Date()),
      archive: {
        enabled: inputs.spec.backup.archiveBinlogs,
        following: inputs.archive.following(),
        gaps: inputs.archive.gaps().length,
        lag: await inputs.lag().catch(() => null),
      },
    },
  };
}

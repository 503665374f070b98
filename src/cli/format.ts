import type { SiteStatus } from "../status/site-status.js";

/** A human-readable status table. */
export function formatStatus(status: SiteStatus): string {
  const state = status.unsupervised
    ? `running WITHOUT its supervisor (${status.unsupervised.processes} processes: the controller still fails over, but nothing restarts a crashed process; 'hapress up' adopts them)`
    : status.running
      ? status.ready
        ? "ready"
        : "not ready"
      : "stopped";
  const lines = [
    `site ${status.site} (${status.stateDir}): ${state}`,
    `primary: ${status.primary ?? "none"}${status.primaryEpoch ? ` (epoch ${status.primaryEpoch})` : ""}`,
    `semi-sync: ${status.database.semiSync} (${status.database.semiSyncDetail})`,
    ...(status.database.rollout
      ? [
          `rolling update: ${status.database.rollout.updated} of ${status.database.rollout.of} database pods updated to ${status.database.rollout.revision} (the controller restarts the rest one at a time, the primary after a switchover)`,
        ]
      : []),
    ...(status.wordpressRollout
      ? [
          `rolling update of WordPress: ${status.wordpressRollout.outdated.join(", ") || "nothing"} still on an older configuration${status.wordpressRollout.surge ? `; ${status.wordpressRollout.surge} serves beside them meanwhile` : ""} (restarted one at a time, each drained from the load balancer first)`,
        ]
      : []),
    `connections: ${status.database.maxConnections} per instance; endpoints open at most ${status.database.endpointLimits.maxConnectionsPerServer} per instance, queue ${status.database.endpointLimits.queueTimeoutMs} ms`,
    `controller: ${status.controller.running ? status.controller.state : "not running"}${status.controller.lastEvent ? ` (last: ${status.controller.lastEvent.kind}, ${status.controller.lastEvent.time})` : ""}`,
    ...(status.pageCache
      ? [
          status.pageCache.enabled
            ? `page cache: on, TTL ${status.pageCache.ttlSeconds} s; hit ratio ${status.pageCache.hitRatio ?? "-"} (HIT ${status.pageCache.hit}, STALE ${status.pageCache.stale}, MISS ${status.pageCache.miss}, BYPASS ${status.pageCache.bypass})`
            : "page cache: off",
        ]
      : []),
    ...(status.backup
      ? [
          `backups: ${status.backup.path}; binary-log archive: ${status.backup.archiving ? `following ${status.backup.archiving}` : "not running"}${status.backup.gaps.length > 0 ? `; ${status.backup.gaps.length} GAP(S): ${status.backup.gaps.map((g) => `${g.after} .. ${g.next}`).join(", ")} (see 'hapress backups')` : ""}`,
        ]
      : []),
    `mysql-primary: ${status.endpoints.mysqlPrimary}   mysql-replicas: ${status.endpoints.mysqlReplicas}${status.endpoints.http ? `   http: ${status.endpoints.http}` : ""}`,
    ...(status.endpoints.metrics ? [`metrics: ${metricsLine(status.endpoints.metrics)}`] : []),
    "",
  ];
  const header = [
    "POD",
    "ROLE",
    "ADDRESS",
    "READY",
    "PHASE",
    "RESTARTS",
    "GTID",
    "LAG",
    "SEMISYNC",
    "CONN",
    "REFUSED",
    "PIDS",
  ];
  const rows = status.pods.map((p) => [
    p.name,
    p.role ?? "-",
    p.port ? `${p.address}:${p.port}` : p.address,
    p.ready ? "yes" : "no",
    p.phase,
    String(p.restarts),
    p.gtid || "-",
    p.lagSeconds === null ? "-" : `${p.lagSeconds}s`,
    p.semiSync === null ? "-" : p.semiSync ? "on" : "off",
    p.connections ? `${p.connections.inUse}/${p.connections.limit}` : "-",
    p.connections ? String(p.connections.refused) : "-",
    p.pids.join(",") || "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const render = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  lines.push(render(header), ...rows.map(render));
  const messages = status.pods.filter((p) => p.message && !p.ready).map((p) => `  ${p.name}: ${p.message}`);
  if (messages.length > 0) lines.push("", "messages:", ...messages);
  if (status.credentials) {
    const c = status.credentials;
    lines.push("", `app user: ${c.app.user} / ${c.app.password} (database ${c.app.database})`);
  }
  return lines.join("\n");
}

/** Where the site's metrics are scraped, as `up` and `status` print it. */
export function metricsLine(metrics: NonNullable<SiteStatus["endpoints"]["metrics"]>): string {
  const mysqld = metrics.mysqld?.length ? `, ${metrics.mysqld.join(" ")} (mysqld_exporter)` : "";
  return `${metrics.controller} (controller), ${metrics.supervisor} (supervisor), ${metrics.loadBalancer} (HAProxy)${mysqld}`;
}

// What a local site's status says of its endpoints, from its topology.
import type { SiteStatus } from "../../status/site-status.js";
import type { Topology } from "../../topology/topology.js";
import { exporterEndpoint } from "./mysqld-exporter.js";

/** The site's scrape URLs, as status shows them. */
export function metricsEndpoints(
  topology: Topology,
  mysqldExporter: boolean,
): NonNullable<SiteStatus["endpoints"]["metrics"]> {
  const { address, controllerPort, supervisorPort, loadBalancerPort } = topology.metrics;
  return {
    ...(mysqldExporter ? { mysqld: topology.mysql.map(exporterEndpoint) } : {}),
    controller: `http://${address}:${controllerPort}/metrics`,
    supervisor: `http://${address}:${supervisorPort}/metrics`,
    loadBalancer: `http://${address}:${loadBalancerPort}/metrics`,
  };
}

/** The database endpoints' connection limits, as status shows them. */
export function endpointLimits(topology: Topology): SiteStatus["database"]["endpointLimits"] {
  const { maxConnectionsPerServer, queueTimeoutMs } = topology.services.mysqlPrimary;
  return { maxConnectionsPerServer, queueTimeoutMs };
}

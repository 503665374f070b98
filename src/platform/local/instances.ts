import { existsSync } from "node:fs";
import { join } from "node:path";
import { CLONE_INFO_FILE } from "../../agent/clone.js";
import type { DatabaseInstance } from "../../controller/platform.js";
import { ADMIN_PORT, type Topology } from "../../topology/topology.js";

/**
 * The database instances as the controller sees them. One still being provisioned (no data yet, a
 * clone not yet replicating, a re-clone under way) is not the controller's to touch.
 */
export function databaseInstances(
  topology: Topology,
  dataDir: (pod: string) => string,
  recloning: ReadonlySet<string>,
): DatabaseInstance[] {
  return topology.mysql.map((pod) => {
    const data = dataDir(pod.name);
    return {
      name: pod.name,
      ordinal: pod.ordinal,
      address: pod.address,
      port: pod.port,
      adminPort: ADMIN_PORT,
      provisioning: recloning.has(pod.name) || !existsSync(data) || existsSync(join(data, CLONE_INFO_FILE)),
      // HAProxy is rendered from the record and switched only by `route`: nothing to report.
      routed: null,
    };
  });
}

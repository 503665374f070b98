import { join } from "node:path";
import type { Secrets } from "../../state/secrets.js";
import { writeFileAtomic } from "../../state/files.js";
import { MYSQLD_EXPORTER_PORT, type PodPlan } from "../../topology/topology.js";
import { giveTo } from "../../util/accounts.js";
import type { ServiceAccount } from "../../util/accounts.js";
import type { ProcessManager } from "./processes.js";

/** Debian's package prometheus-mysqld-exporter (install.sh installs it). */
export const MYSQLD_EXPORTER_COMMAND = "prometheus-mysqld-exporter";

export function exporterProcessName(pod: string): string {
  return `${pod}/mysqld-exporter`;
}

/** Where a database pod's exporter is scraped: the pod's own loopback address. */
export function exporterEndpoint(pod: Pick<PodPlan, "address">): string {
  return `http://${pod.address}:${MYSQLD_EXPORTER_PORT}/metrics`;
}

/** The exporter's client options: its own account, through the server's socket only. */
export function renderExporterClientConfig(secrets: Secrets, socket: string): string {
  return [
    "[client]",
    `user=${secrets.exporterUser}`,
    `password=${secrets.exporterPassword}`,
    `socket=${socket}`,
    "",
  ].join("\n");
}

export interface ExporterDeps {
  processes: ProcessManager;
  /** The database's account (null: run as the supervisor's user); the exporter runs as it. */
  account: ServiceAccount | null;
}

/**
 * Keeps (or stops) the optional mysqld_exporter of one database pod: a process of the pod, run as the
 * database's account, its password in a file only that account reads (`runDir`, the pod's own).
 */
export async function reconcileExporter(
  deps: ExporterDeps,
  input: {
    enabled: boolean;
    pod: PodPlan;
    secrets: Secrets;
    socket: string;
    runDir: string;
    logFile: string;
  },
): Promise<void> {
  const name = exporterProcessName(input.pod.name);
  if (!input.enabled) {
    if (deps.processes.info(name)) await deps.processes.stop(name, 5000);
    return;
  }
  if (deps.processes.isRunning(name)) return;
  const configFile = join(input.runDir, "exporter.cnf");
  await writeFileAtomic(configFile, renderExporterClientConfig(input.secrets, input.socket), 0o600);
  if (deps.account) await giveTo(configFile, deps.account, { recursive: false, groupReadable: false });
  deps.processes.ensure({
    name,
    pod: input.pod.name,
    command: MYSQLD_EXPORTER_COMMAND,
    args: [
      `--config.my-cnf=${configFile}`,
      `--web.listen-address=${input.pod.address}:${MYSQLD_EXPORTER_PORT}`,
    ],
    logFile: input.logFile,
    ...(deps.account ? { user: { uid: deps.account.uid, gid: deps.account.gid } } : {}),
  });
}

import { Controller, PROBE_TIMEOUTS } from "../controller/controller.js";
import { InstanceSql } from "../controller/sql-actions.js";
import { defaultControllerConfig } from "../controller/decide.js";
import { LocalPlatform } from "../platform/local/local-platform.js";
import { serveRpc } from "../platform/local/rpc.js";
import { statePaths } from "../state/files.js";
import { loadSecrets } from "../state/secrets.js";
import { sleep } from "../util/process.js";
import { ControllerMetrics } from "../metrics/controller-metrics.js";
import { RetryingMetricsEndpoint } from "../metrics/retrying-endpoint.js";
import { readSiteRecord } from "../platform/local/site-record.js";
import { CONTROLLER_METRICS_PORT, metricsAddress } from "../topology/topology.js";

/** Loop interval and probe timeouts: sub-second, so a dead primary is noticed in about a second. */
const ROUND_INTERVAL_MS = 250;

/** How often a /metrics port that was taken is tried again. */
const METRICS_RETRY_MS = 5000;

/**
 * Serves the controller's /metrics on the site's metrics address, trying again while the port is
 * taken (a controller restarted before its predecessor let go). A site without its record (never
 * started by `up`) has no address: nothing is served. Metrics never stop the controller from keeping
 * the database available.
 */
async function serveControllerMetrics(
  siteFile: string,
  metrics: ControllerMetrics,
  log: (line: string) => void,
): Promise<{ close: () => void }> {
  const site = await readSiteRecord(siteFile).catch(() => null);
  if (!site) {
    log("no site record: metrics not served");
    return { close: () => undefined };
  }
  const endpoint = new RetryingMetricsEndpoint(
    metricsAddress(site.subnet),
    CONTROLLER_METRICS_PORT,
    () => metrics.exposition(),
    log,
  );
  void endpoint.ensure();
  const retry = setInterval(() => void endpoint.ensure(), METRICS_RETRY_MS);
  retry.unref();
  return {
    close: () => {
      clearInterval(retry);
      endpoint.close();
    },
  };
}

/** Runs the database HA controller of a local site until SIGTERM. */
export async function runController(
  stateDir: string,
  options: { automaticFailover: boolean } = { automaticFailover: true },
): Promise<void> {
  const paths = statePaths(stateDir);
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const metrics = new ControllerMetrics();
  const controller = new Controller({
    metrics,
    platform: new LocalPlatform(stateDir, log),
    instances: new InstanceSql(await loadSecrets(paths.secrets), PROBE_TIMEOUTS),
    // `--no-automatic-failover`: a dead primary is reported, never replaced (as on Kubernetes).
    config: { ...defaultControllerConfig, automaticFailover: options.automaticFailover },
    now: () => Date.now(),
    sleep,
    log,
    onStuckRound: (elapsedMs) => {
      log(`watchdog: a round has run for ${elapsedMs} ms; exiting so the supervisor restarts the controller`);
      process.exit(75);
    },
  });
  let stopping = false;
  const server = await serveRpc(paths.controllerSocket, (request) => {
    if (request.method === "switchover-requested") {
      // The request itself is in the state folder; this only saves waiting for the next round.
      controller.wake();
      return Promise.resolve({ woken: true });
    }
    if (request.method === "observation") return Promise.resolve(controller.lastObservation);
    if (request.method === "instance-exited") {
      const pod = typeof request.params?.pod === "string" ? request.params.pod : "";
      const how = typeof request.params?.how === "string" ? request.params.how : "exited";
      if (!/^mysql-\d+$/.test(pod)) return Promise.reject(new Error(`no database instance named '${pod}'`));
      log(`the supervisor reports that ${pod}'s mariadbd ${how}`);
      controller.noteExit(pod, how);
      return Promise.resolve({ noted: pod });
    }
    return Promise.reject(new Error(`unknown method '${request.method}'`));
  });
  const metricsServer = await serveControllerMetrics(paths.site, metrics, log);
  const stop = () => {
    stopping = true;
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  log(
    `controller ${process.pid} watching the database tier (automatic failover ${options.automaticFailover ? "on" : "off"})`,
  );
  await controller.run(ROUND_INTERVAL_MS, () => stopping);
  server.close();
  metricsServer.close();
  log("controller stopped");
  process.exit(0);
}

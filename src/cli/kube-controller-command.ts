import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { Controller, PROBE_TIMEOUTS } from "../controller/controller.js";
import { InstanceSql } from "../controller/sql-actions.js";
import { defaultControllerConfig } from "../controller/decide.js";
import { defaultElectionTiming, LeaderElector } from "../controller/leader-election.js";
import type { ControllerCredentials } from "../controller/sql-actions.js";
import { errorMessage, HapressError, InputError } from "../errors.js";
import { isLoopbackIPv4Literal } from "../util/net.js";
import { loadKubeConfig } from "../platform/kubernetes/cluster.js";
import { KubernetesPlatform } from "../platform/kubernetes/kube-platform.js";
import { KubernetesLeaseStore } from "../platform/kubernetes/lease-store.js";
import { ObservationPublisher } from "../platform/kubernetes/observed.js";
import { passwordSchema } from "../state/secrets.js";
import { sleep } from "../util/process.js";
import { secretInput } from "../util/secret-input.js";
import { serveHealth } from "../platform/kubernetes/health.js";
import { ControllerMetrics } from "../metrics/controller-metrics.js";
import { serveMetrics } from "../metrics/serve.js";
import { ServerExitReports } from "../controller/server-exit-reports.js";
import { AGENT_PORT } from "../topology/topology.js";

const ROUND_INTERVAL_MS = 250;

export interface KubeControllerOptions {
  namespace: string;
  site: string;
  lease: string;
  healthPort: number;
  /** Where Prometheus scrapes the controller (a port of its own: its policy admits only the monitoring namespace). */
  metricsPort: number;
  automaticFailover: boolean;
}

/** A password from the rendered Secret (its file), checked against what hapress generates. */
function passwordFromEnv(name: string): string {
  const value = secretInput(name);
  const parsed = passwordSchema.safeParse(value);
  if (!parsed.success) {
    throw new InputError(
      `${name}: ${value ? "not a password hapress generated (letters and digits, 24 or more)" : `neither it nor ${name}_FILE is set`}; the rendered Deployment mounts it from the hapress-credentials Secret`,
    );
  }
  return parsed.data;
}

/** The agents' server-watch key (hex, from the rendered Secret), or null when none is given. */
function watchKeyFromEnv(): Buffer | null {
  const value = secretInput("HAPRESS_SERVER_WATCH_KEY");
  if (!value) return null;
  if (!/^[0-9a-f]{64}$/.test(value))
    throw new InputError(
      "HAPRESS_SERVER_WATCH_KEY: not a server-watch key (64 hex digits); the rendered Deployment mounts it from the hapress-credentials Secret",
    );
  return Buffer.from(value, "hex");
}

/**
 * The controller on Kubernetes: every replica campaigns for the Lease; the one that holds it runs the
 * same observe-decide-act loop as the local target, through the Kubernetes platform, and stops acting
 * the moment it can no longer count on holding it.
 */
export async function runKubernetesController(options: KubeControllerOptions): Promise<void> {
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  // One identity per process, as client-go does: a restarted container is a new candidate that waits
  // out its predecessor's lease like any other, rather than resuming a lease it cannot know is safe.
  const identity = `${process.env.POD_NAME || hostname()}_${randomBytes(3).toString("hex")}`;
  const credentials: ControllerCredentials = {
    adminUser: process.env.HAPRESS_ADMIN_USER || "hapress_admin",
    adminPassword: passwordFromEnv("HAPRESS_ADMIN_PASSWORD"),
    replicationUser: process.env.HAPRESS_REPLICATION_USER || "repl",
    replicationPassword: passwordFromEnv("HAPRESS_REPLICATION_PASSWORD"),
  };
  const watchKey = watchKeyFromEnv();
  // The pod's own address (kubelet probes come to it); loopback outside a pod.
  const healthAddress = process.env.POD_IP || "127.0.0.1";
  if (!process.env.POD_IP && !isLoopbackIPv4Literal(healthAddress))
    throw new HapressError(`health address ${healthAddress} is not loopback`);

  const kc = loadKubeConfig();
  const platform = new KubernetesPlatform(kc, {
    namespace: options.namespace,
    site: options.site,
    identity,
  });
  const timing = defaultElectionTiming;
  const elector = new LeaderElector({
    store: new KubernetesLeaseStore(kc, options.namespace, options.lease),
    identity,
    timing,
    now: () => Date.now(),
    sleep,
    log,
  });

  let stopping = false;
  let lastElectionTick = Date.now();
  const metrics = new ControllerMetrics();
  const server = await serveHealth(options.healthPort, healthAddress, () => ({
    alive: Date.now() - lastElectionTick < 10 * timing.retryMs + 10_000,
    ready: elector.storeReachable,
    leading: elector.isLeader(),
  }));
  const metricsServer = await serveMetrics(
    healthAddress,
    options.metricsPort,
    () => metrics.exposition(),
    Boolean(process.env.POD_IP),
  );
  const stop = () => {
    stopping = true;
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  log(
    `controller ${identity} campaigning for Lease ${options.namespace}/${options.lease} (site ${options.site}, automatic failover ${options.automaticFailover ? "on" : "off"}, crash reports from the agents ${watchKey ? "on" : "off: no HAPRESS_SERVER_WATCH_KEY"})`,
  );

  // The election runs on its own loop, so a long controller round never delays a renewal.
  const leading: {
    run: Promise<void> | null;
    controller: Controller | null;
    exits: ServerExitReports | null;
  } = { run: null, controller: null, exits: null };
  const publisher = new ObservationPublisher(kc, options.namespace, identity, (error) =>
    log(`publishing the observation failed: ${errorMessage(error)}`),
  );
  const election = (async () => {
    while (!stopping) {
      await elector.tryOnce();
      lastElectionTick = Date.now();
      metrics.leading(elector.isLeader() && !stopping);
      if (elector.isLeader() && leading.run === null) {
        log(`${identity} is the leader: acting`);
        const controller = new Controller({
          metrics,
          platform,
          instances: new InstanceSql(credentials, PROBE_TIMEOUTS),
          config: { ...defaultControllerConfig, automaticFailover: options.automaticFailover },
          now: () => Date.now(),
          sleep,
          log,
          mayAct: () => elector.isLeader() && !stopping,
          onStuckRound: (elapsedMs) => {
            log(`watchdog: a round has run for ${elapsedMs} ms; exiting so the pod's container restarts`);
            process.exit(75);
          },
        });
        leading.controller = controller;
        // The agents report their server's exit at once; without the key, crashes are found by probes.
        leading.exits = watchKey
          ? new ServerExitReports({
              key: watchKey,
              port: AGENT_PORT,
              onExit: (name, how) => {
                log(`${name}'s agent reports that its mariadbd ${how}`);
                controller.noteExit(name, how);
              },
              log,
              now: () => Date.now(),
            })
          : null;
        leading.run = controller
          .run(ROUND_INTERVAL_MS, () => stopping || !elector.isLeader())
          .catch((error: unknown) => log(`controller loop failed: ${errorMessage(error)}`))
          .finally(() => {
            log(`${identity} stopped acting${stopping ? "" : ": the lease is no longer held"}`);
            leading.run = null;
            leading.controller = null;
            leading.exits?.close();
            leading.exits = null;
          });
      }
      // Offered from here, never awaited: a slow API server delays neither a renewal nor a failover.
      const seen = leading.controller?.lastObservation;
      if (seen && elector.isLeader()) publisher.offer(seen);
      if (seen) leading.exits?.track(seen.instances);
      await sleep(timing.retryMs);
    }
  })();
  await election;
  await leading.run;
  await elector.release();
  server.close();
  metricsServer.close();
  log("controller stopped");
  process.exit(0);
}

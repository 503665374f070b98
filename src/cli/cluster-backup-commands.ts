import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { errorMessage, InputError } from "../errors.js";
import { parseSpec } from "../spec/load.js";
import { requiredSecret } from "../util/secret-input.js";
import { sleep } from "../util/process.js";
import { isLoopbackIPv4Literal } from "../util/net.js";
import { parseCount } from "./options.js";

/** The Kubernetes side of these commands, loaded when one runs (the client is slow to load). */
async function kubernetesBackup() {
  const [cluster, backup, health, archiverMetrics, metricsServer] = await Promise.all([
    import("../platform/kubernetes/cluster.js"),
    import("../platform/kubernetes/cluster-backup.js"),
    import("../platform/kubernetes/health.js"),
    import("../platform/kubernetes/archiver-metrics.js"),
    import("../metrics/serve.js"),
  ]);
  return {
    loadKubeConfig: cluster.loadKubeConfig,
    readDatabaseView: backup.readDatabaseView,
    runClusterArchiver: backup.runClusterArchiver,
    takeClusterBackup: backup.takeClusterBackup,
    serveHealth: health.serveHealth,
    ArchiverMetrics: archiverMetrics.ArchiverMetrics,
    serveMetrics: metricsServer.serveMetrics,
  };
}

const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);

async function specFrom(file: string) {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new InputError(
      `--spec-file ${file}: cannot read it (${errorMessage(error)}); the rendered pod mounts it from the hapress-spec ConfigMap`,
    );
  }
  return parseSpec(JSON.parse(text) as unknown, file);
}

/** `hapress agent cluster-backup` and `agent cluster-archive`: what the backup CronJob and the archiver run. */
export function registerClusterBackupCommands(agent: Command): void {
  agent
    .command("cluster-backup")
    .description("in a Kubernetes pod: one backup of the site onto the backup volume, then backup.keep")
    .requiredOption("--namespace <name>", "the site's namespace")
    .requiredOption("--spec-file <file>", "the site's spec (the mounted hapress-spec ConfigMap)")
    .requiredOption("--to <dir>", "the backup volume's mount")
    .option("--content <dir>", "the WordPress content volume's mount (read-only)")
    .action(async (options: { namespace: string; specFile: string; to: string; content?: string }) => {
      const spec = await specFrom(options.specFile);
      const { loadKubeConfig, takeClusterBackup } = await kubernetesBackup();
      const { backup, removed } = await takeClusterBackup({
        kc: loadKubeConfig(),
        namespace: options.namespace,
        spec,
        specFile: options.specFile,
        destination: options.to,
        contentDir: options.content ?? null,
        cloneToken: requiredSecret("HAPRESS_CLONE_TOKEN"),
        log,
      });
      for (const what of removed) log(`removed ${what} (backup.keep)`);
      console.log(
        JSON.stringify({
          dir: backup.dir,
          gtid: backup.manifest.gtid,
          source: backup.manifest.source,
          bytes: backup.manifest.database.bytes,
          removed,
        }),
      );
    });
  agent
    .command("cluster-archive")
    .description(
      "in a Kubernetes pod: copy the recorded primary's binary logs into the archive, following failovers",
    )
    .requiredOption("--namespace <name>", "the site's namespace")
    .requiredOption("--site <name>", "the site's name")
    .requiredOption("--to <dir>", "the archive folder on the backup volume")
    .option("--user <name>", "the replication account", "repl")
    .option(
      "--health-port <port>",
      "port of /healthz and /readyz (on $POD_IP, else loopback)",
      parseCount(1, 65535),
    )
    .option(
      "--metrics-port <port>",
      "port of /metrics: the backups beside the archive and the archive (on $POD_IP, else loopback)",
      parseCount(1, 65535),
    )
    .option("--schedule <cron>", "the backup CronJob's schedule, for the backup-age metrics")
    .action(
      async (options: {
        namespace: string;
        site: string;
        to: string;
        user: string;
        healthPort?: number;
        metricsPort?: number;
        schedule?: string;
      }) => {
        const password = requiredSecret("HAPRESS_REPLICATION_PASSWORD");
        const {
          loadKubeConfig,
          readDatabaseView,
          runClusterArchiver,
          serveHealth,
          ArchiverMetrics,
          serveMetrics,
        } = await kubernetesBackup();
        const kc = loadKubeConfig();
        let stopping = false;
        process.on("SIGTERM", () => (stopping = true));
        process.on("SIGINT", () => (stopping = true));
        const health = { round: Date.now(), streaming: null as string | null };
        const metrics = new ArchiverMetrics({
          archiveDir: options.to,
          schedule: options.schedule ?? null,
          credentials: { user: options.user, password },
          log,
        });
        const address = process.env.POD_IP || "127.0.0.1";
        if (!process.env.POD_IP && !isLoopbackIPv4Literal(address))
          throw new InputError(`health address ${address} is not loopback`);
        const server =
          options.healthPort === undefined
            ? null
            : await serveHealth(options.healthPort, address, () => ({
                alive: Date.now() - health.round < 30_000,
                ready: health.streaming !== null,
              }));
        const metricsServer =
          options.metricsPort === undefined
            ? null
            : await serveMetrics(
                address,
                options.metricsPort,
                () => metrics.exposition(),
                Boolean(process.env.POD_IP),
              );
        log(`archiving the binary logs of ${options.site}'s primary into ${options.to}`);
        await runClusterArchiver({
          archiveDir: options.to,
          readView: () => readDatabaseView(kc, options.namespace, options.site),
          credentials: { user: options.user, password },
          log,
          sleep,
          intervalMs: 1000,
          stopping: () => stopping,
          onRound: (streaming) => {
            health.round = Date.now();
            health.streaming = streaming?.segment ?? null;
            metrics.round(streaming);
          },
        });
        server?.close();
        metricsServer?.close();
        log("archiver stopped");
      },
    );
}

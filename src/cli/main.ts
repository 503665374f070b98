import type { Command } from "commander";
import { createReadStream, existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { InputError } from "../errors.js";
import {
  down,
  liveStatus,
  offlineStatus,
  scaleTier,
  firstAdminLogin,
  up,
  withCredentials,
  type SelfCommand,
} from "../platform/local/site-control.js";
import { Supervisor } from "../platform/local/supervisor.js";
import { serviceAccountsFor } from "../platform/local/layout.js";
import { loadSpec } from "../spec/load.js";
import { statePaths } from "../state/files.js";
import { sleep } from "../util/process.js";
import { formatStatus, metricsLine } from "./format.js";
import { CONTROLLER_METRICS_PORT } from "../topology/topology.js";
import { addChaosCommand } from "./chaos-command.js";
import { runController } from "./controller-command.js";
import { registerAgentCommands } from "./agent-commands.js";
import { registerApplyCommand } from "./apply-command.js";
import { addClusterOptions, targetsCluster, type ClusterTarget } from "./cluster-options.js";
import type { SiteStatus } from "../status/site-status.js";
import { parseCount, parseSeconds, report, type GlobalOptions } from "./options.js";
import type { RecordedEvent } from "../platform/local/local-platform.js";
import { withSystemDirs } from "../util/system-path.js";
import { addServiceCommands } from "./service-command.js";
import { addBackupCommands } from "./backup-commands.js";
import { newProgram, runProgram, stateDirOf } from "./program.js";
import { addSwitchoverCommand } from "./switchover-command.js";

/** How the supervisor runs this CLI again: the same node, flags and script. */
function selfCommand(): SelfCommand {
  return { command: process.execPath, args: [...process.execArgv, process.argv[1] ?? ""] };
}

/**
 * The command line. Kubernetes code is imported only by the commands that use it (the client and the
 * schema models take about a second to load): `status` and the agents that the local target starts
 * again and again stay quick. `switchover` does not even come here: see quick-command.ts.
 */
function buildProgram(): Command {
  const program = newProgram();

  const globals = () => program.opts<GlobalOptions>();

  program
    .command("up")
    .description("start the site locally (or reconcile a running one to the spec) and wait until it is ready")
    .option("--timeout <seconds>", "how long to wait for readiness", parseSeconds, 600)
    .option("--json", "print the final status as JSON")
    .action(async (options: { timeout: number; json?: boolean }) => {
      const g = globals();
      const file = g.file ?? "hapress.yaml";
      const spec = await loadSpec(file, { explicit: g.file !== undefined });
      const stateDir = stateDirOf(g);
      const started = Date.now();
      const status = await up(spec, file, stateDir, selfCommand(), report, options.timeout * 1000);
      if (options.json) return console.log(JSON.stringify(status, null, 2));
      console.log(`site ${status.site} is ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      console.log(`  primary:          ${status.primary ?? "?"}`);
      console.log(`  mysql-primary:    ${status.endpoints.mysqlPrimary}   (writes)`);
      console.log(`  mysql-replicas:   ${status.endpoints.mysqlReplicas}   (reads)`);
      console.log(`  semi-sync:        ${status.database.semiSync} (${status.database.semiSyncDetail})`);
      if (status.endpoints.http)
        console.log(
          `  site:             ${status.endpoints.http}   (admin: ${status.endpoints.http}/wp-admin/)`,
        );
      if (status.endpoints.metrics)
        console.log(`  metrics:          ${metricsLine(status.endpoints.metrics)}`);
      console.log(
        `  credentials:      ${statePaths(stateDir).secrets} (mode 0600; or 'hapress status --show-secrets')`,
      );
      const first = await firstAdminLogin(stateDir);
      if (first)
        console.log(
          `  WordPress admin:  ${first.user} / ${first.password}   (shown once; kept in the credentials file)`,
        );
    });

  addClusterOptions(
    program
      .command("down")
      .description("stop every process of the site and wait for them; --volumes also deletes its data"),
  )
    .option("--volumes", "delete the data, secrets and logs too")
    .option("-y, --yes", "do not ask before deleting data")
    .option(
      "--timeout <seconds>",
      "Kubernetes: how long to wait for the site's pods to stop",
      parseSeconds,
      300,
    )
    .action(async (options: ClusterTarget & { volumes?: boolean; yes?: boolean; timeout: number }) => {
      const cluster = targetsCluster(options);
      const stateDir = stateDirOf(globals());
      if (options.volumes && !options.yes) {
        if (!process.stdin.isTTY) {
          throw new InputError("down --volumes deletes all data: confirm with --yes (no terminal to ask on)");
        }
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const where = cluster
          ? "the site's volumes and credentials in the cluster"
          : `all data, secrets and logs in ${stateDir}`;
        const answer = await rl.question(`Delete ${where}? Type 'yes': `);
        rl.close();
        if (answer.trim() !== "yes") throw new InputError("not confirmed; nothing deleted");
      }
      if (cluster)
        return (await import("./cluster-site.js")).clusterDown(globals(), options, {
          volumes: options.volumes === true,
          timeoutMs: options.timeout * 1000,
        });
      await down(stateDir, { volumes: options.volumes === true }, report);
    });

  addClusterOptions(
    program.command("status").description("show the site's pods, roles, replication and endpoints"),
  )
    .option("--json", "machine-readable output (a stable contract, see README)")
    .option("--show-secrets", "include credentials")
    .action(async (options: ClusterTarget & { json?: boolean; showSecrets?: boolean }) => {
      let status: SiteStatus;
      if (targetsCluster(options)) {
        const { clusterStatus } = await import("./cluster-site.js");
        status = await clusterStatus(globals(), options, options.showSecrets === true);
      } else {
        const stateDir = stateDirOf(globals());
        status = (await liveStatus(stateDir)) ?? (await offlineStatus(stateDir));
        if (options.showSecrets) status = await withCredentials(status, stateDir);
      }
      console.log(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    });

  program
    .command("logs")
    .description("print a pod's log (mysql-0, haproxy, supervisor, ...)")
    .argument("<pod>", "pod name")
    .option("-f, --follow", "keep printing new lines until interrupted")
    .action(async (pod: string, options: { follow?: boolean }) => {
      const paths = statePaths(stateDirOf(globals()));
      if (!/^[a-z0-9-]+$/.test(pod) || !existsSync(paths.podLog(pod))) {
        const available = (await readdir(paths.logs).catch(() => [] as string[]))
          .filter((f) => f.endsWith(".log"))
          .map((f) => f.slice(0, -4));
        throw new InputError(`no log for pod '${pod}'; pods with logs: ${available.join(", ") || "none"}`);
      }
      await printLog(paths.podLog(pod), options.follow === true);
    });

  const scale = program.command("scale").description("change the number of replicas of a tier");
  for (const tier of ["mysql", "wordpress"] as const) {
    const database = tier === "mysql";
    addClusterOptions(
      scale
        .command(tier)
        .description(
          database
            ? "scale the database tier: up clones new replicas; down removes the highest ordinals, never the primary"
            : "scale the WordPress tier: down removes the highest ordinals first",
        ),
    )
      .argument(
        "<replicas>",
        database ? "number of database instances (1-9)" : "number of WordPress pods (0-20)",
        database ? parseCount(1, 9) : parseCount(0, 20),
      )
      .option("--timeout <seconds>", "how long to wait for readiness", parseSeconds, 600)
      .action(async (replicas: number, options: ClusterTarget & { timeout: number }) => {
        if (targetsCluster(options))
          return (await import("./cluster-site.js")).clusterScale(
            globals(),
            options,
            tier,
            replicas,
            options.timeout * 1000,
          );
        const status = await scaleTier(stateDirOf(globals()), tier, replicas, report, options.timeout * 1000);
        console.log(
          database
            ? `database tier at ${status.database.replicas} instance(s); primary ${status.primary ?? "?"}`
            : `WordPress tier at ${status.pods.filter((p) => p.component === "wordpress").length} pod(s)`,
        );
      });
  }

  addServiceCommands(program, () => ({ stateDir: stateDirOf(globals()), self: selfCommand() }));
  addBackupCommands(program, () => ({ stateDir: stateDirOf(globals()), self: selfCommand() }));
  addChaosCommand(program, () => ({ stateDir: stateDirOf(globals()), self: selfCommand() }));

  program
    .command("supervise", { hidden: true })
    .description("run the site's supervisor in the foreground (started by 'up')")
    .action(async () => {
      // Everything the site's processes create (data, logs, sockets, copies) is its owner's alone.
      process.umask(0o077);
      const stateDir = stateDirOf(globals());
      const supervisor = new Supervisor({
        stateDir,
        selfCommand: selfCommand(),
        accounts: serviceAccountsFor(process.getuid?.()),
      });
      process.on("SIGTERM", () => void supervisor.shutdown());
      process.on("SIGINT", () => void supervisor.shutdown());
      await supervisor.start();
      await new Promise<never>(() => undefined);
    });

  program
    .command("render")
    .description("render the Kubernetes manifests of the site (validated against the official schema)")
    .option(
      "-o, --output <dir>",
      "write one file per object into this folder (default: one stream on stdout)",
    )
    .option(
      "--secrets <file>",
      "secrets file, read back and completed, never rotated (default: hapress-secrets.json beside the spec)",
    )
    .action(async (options: { output?: string; secrets?: string }) => {
      const g = globals();
      const file = g.file ?? "hapress.yaml";
      const spec = await loadSpec(file, { explicit: g.file !== undefined });
      const { renderCommand } = await import("../platform/kubernetes/render-command.js");
      const stream = await renderCommand({
        spec,
        specSource: file,
        secretsFile: options.secrets ?? join(dirname(resolve(file)), "hapress-secrets.json"),
        outputDir: options.output ?? null,
        report,
      });
      if (stream !== null) process.stdout.write(stream);
    });

  registerApplyCommand(program, globals);

  program
    .command("controller")
    .description("run the database HA controller in the foreground (the supervisor starts it)")
    .option("--platform <platform>", "local (the supervisor) or kubernetes", "local")
    .option("--namespace <namespace>", "kubernetes: the site's namespace")
    .option("--lease <name>", "kubernetes: the Lease used for leader election")
    .option("--health-port <port>", "kubernetes: port of the /healthz endpoint", parseCount(1, 65535))
    .option(
      "--metrics-port <port>",
      "kubernetes: port of the Prometheus /metrics endpoint",
      parseCount(1, 65535),
      CONTROLLER_METRICS_PORT,
    )
    .option("--site <name>", "kubernetes: the site's name (its pods' app.kubernetes.io/instance label)")
    .option("--no-automatic-failover", "observe and report, never promote")
    .action(
      async (options: {
        platform: string;
        namespace?: string;
        lease?: string;
        healthPort?: number;
        metricsPort: number;
        site?: string;
        automaticFailover: boolean;
      }) => {
        if (options.platform === "kubernetes") {
          const missing = (["namespace", "site", "lease", "healthPort"] as const).filter(
            (key) => options[key] === undefined,
          );
          if (missing.length > 0) {
            throw new InputError(
              `--platform kubernetes needs ${missing.map((m) => `--${m.replace("healthPort", "health-port")}`).join(", ")}; e.g. controller --platform kubernetes --namespace shop --site shop --lease hapress-controller --health-port 8081`,
            );
          }
          const { runKubernetesController } = await import("./kube-controller-command.js");
          await runKubernetesController({
            namespace: options.namespace ?? "",
            site: options.site ?? "",
            lease: options.lease ?? "",
            healthPort: options.healthPort ?? 8081,
            metricsPort: options.metricsPort,
            automaticFailover: options.automaticFailover,
          });
          return;
        }
        if (options.platform !== "local")
          throw new InputError(`--platform ${options.platform}: must be local or kubernetes`);
        await runController(stateDirOf(globals()));
      },
    );

  addSwitchoverCommand(program, globals);

  program
    .command("events")
    .description("the controller's decisions, with their reasons")
    .option("--json", "one JSON array")
    .option("-n, --last <count>", "only the last N events", parseCount(1, 100000))
    .action(async (options: { json?: boolean; last?: number }) => {
      const paths = statePaths(stateDirOf(globals()));
      const text = await readFile(paths.events, "utf8").catch(() => "");
      let events = text
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as RecordedEvent);
      if (options.last !== undefined) events = events.slice(-options.last);
      if (options.json) return console.log(JSON.stringify(events, null, 2));
      for (const e of events) console.log(`${e.time}  ${e.kind.padEnd(18)} ${e.message}`);
    });

  registerAgentCommands(program);

  return program;
}

async function printLog(path: string, follow: boolean): Promise<void> {
  let position = 0;
  const printFrom = async (start: number) => {
    const size = (await stat(path)).size;
    if (size < start) start = 0;
    if (size === start) return size;
    await new Promise<void>((done, fail) => {
      createReadStream(path, { start, end: size - 1 })
        .on("data", (chunk) => process.stdout.write(chunk))
        .on("end", done)
        .on("error", fail);
    });
    return size;
  };
  position = await printFrom(0);
  if (!follow) return;
  let interrupted = false;
  process.on("SIGINT", () => (interrupted = true));
  while (!interrupted) {
    await sleep(500);
    position = await printFrom(position);
  }
}

export async function main(argv: string[]): Promise<number> {
  return runProgram(buildProgram(), argv);
}

// Debian's server programs live in sbin folders an ordinary user's PATH lacks; every program hapress
// starts (and the supervisor it spawns) inherits this.
process.env.PATH = withSystemDirs(process.env.PATH);
process.exitCode = await main(process.argv);

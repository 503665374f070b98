import type { Command } from "commander";
import { InputError } from "../errors.js";
import { serviceAccountsFor } from "../platform/local/layout.js";
import { Supervisor } from "../platform/local/supervisor.js";
import { CONTROLLER_METRICS_PORT } from "../topology/topology.js";
import { runController } from "./controller-command.js";
import { parseCount, type GlobalOptions } from "./options.js";
import { stateDirOf } from "./program.js";
import { selfCommand } from "./self-command.js";

/** The long-running parts, run in the foreground: the local supervisor and the HA controller. */
export function addRunCommands(program: Command, globals: () => GlobalOptions): void {
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
        await runController(stateDirOf(globals()), { automaticFailover: options.automaticFailover });
      },
    );
}

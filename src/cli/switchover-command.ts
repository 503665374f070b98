import type { Command } from "commander";
import { InputError } from "../errors.js";
import { addClusterOptions, checkNamespace, targetsCluster, type ClusterTarget } from "./cluster-options.js";
import { parseSeconds, type GlobalOptions } from "./options.js";
import { stateDirOf } from "./program.js";

/**
 * `hapress switchover`: writes a request where the controller's memory lives (the state folder, or the
 * site's state ConfigMap with --kubernetes) and prints the controller's steps until it is done or
 * rolled back. Kept light locally (no database client, no spec, no Kubernetes client): the quick entry
 * runs it, so the switch begins a few tens of milliseconds after the command starts.
 */
export function addSwitchoverCommand(program: Command, globals: () => GlobalOptions): void {
  addClusterOptions(
    program
      .command("switchover")
      .description("planned switchover: make a replica the primary with no acknowledged write lost")
      .option("--to <pod>", "the replica to promote (default: the most advanced)")
      .option(
        "--timeout <seconds>",
        "how long the target may take to catch up before rolling back",
        parseSeconds,
        10,
      ),
  ).action(async (options: { to?: string; timeout: number } & ClusterTarget) => {
    if (options.to !== undefined && !/^mysql-\d+$/.test(options.to)) {
      throw new InputError(`--to ${options.to}: must name a database pod, for example --to mysql-1`);
    }
    const request = {
      to: options.to ?? null,
      deadlineMs: options.timeout * 1000,
      onStep: (message: string) => console.log(message),
    };
    if (targetsCluster(options)) {
      checkNamespace(options.namespace);
      const { switchoverClusterSite } = await import("./cluster-site.js");
      await switchoverClusterSite(globals(), options, request);
      return;
    }
    const { switchoverLocalSite } = await import("../platform/local/local-switchover.js");
    await switchoverLocalSite(stateDirOf(globals()), request);
  });
}

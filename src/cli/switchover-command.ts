import type { Command } from "commander";
import { InputError } from "../errors.js";
import { addClusterOptions, type ClusterTarget } from "./cluster-options.js";
import { parseSeconds, type GlobalOptions } from "./options.js";
import { openSiteTarget } from "./site-target.js";

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
    if (options.timeout > 3600)
      throw new InputError(
        `--timeout ${options.timeout}: at most 3600 seconds (writes wait all that time), e.g. --timeout 10`,
      );
    if (options.to !== undefined && !/^mysql-\d+$/.test(options.to)) {
      throw new InputError(`--to ${options.to}: must name a database pod, for example --to mysql-1`);
    }
    await openSiteTarget(globals(), options).switchover({
      to: options.to ?? null,
      deadlineMs: options.timeout * 1000,
      onStep: (message: string) => console.log(message),
    });
  });
}

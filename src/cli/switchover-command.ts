import type { Command } from "commander";
import { HapressError, InputError } from "../errors.js";
import { callRpc, SupervisorUnreachable } from "../platform/local/rpc.js";
import { statePaths } from "../state/files.js";
import { parseSeconds, type GlobalOptions } from "./options.js";
import { stateDirOf } from "./program.js";

/**
 * `hapress switchover`: hands the request to the controller over its socket and waits for the
 * outcome. Kept light (no database client, no spec loading): the quick entry runs it, so the switch
 * begins a few tens of milliseconds after the command starts.
 */
export function addSwitchoverCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command("switchover")
    .description("planned switchover: make a replica the primary with no acknowledged write lost")
    .option("--to <pod>", "the replica to promote (default: the most advanced)")
    .option(
      "--timeout <seconds>",
      "how long the target may take to catch up before rolling back",
      parseSeconds,
      10,
    )
    .action(async (options: { to?: string; timeout: number }) => {
      const paths = statePaths(stateDirOf(globals()));
      if (options.to !== undefined && !/^mysql-\d+$/.test(options.to)) {
        throw new InputError(`--to ${options.to}: must name a database pod, for example --to mysql-1`);
      }
      const result = await callRpc<{ ok: boolean; message: string }>(
        paths.controllerSocket,
        { method: "switchover", params: { to: options.to ?? null, deadlineMs: options.timeout * 1000 } },
        options.timeout * 1000 + 60_000,
      ).catch((error: unknown) => {
        if (error instanceof SupervisorUnreachable)
          throw new HapressError("the controller is not running: run 'hapress up'");
        throw error;
      });
      if (!result.ok) throw new HapressError(`switchover failed: ${result.message}`);
      console.log(result.message);
    });
}

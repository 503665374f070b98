import type { Command } from "commander";
import { withSystemDirs } from "../util/system-path.js";
import { registerAgentCommands } from "./agent-commands.js";
import { registerApplyCommand } from "./apply-command.js";
import { addBackupCommands } from "./backup-commands.js";
import { addChaosCommand } from "./chaos-command.js";
import { addInspectCommands } from "./inspect-commands.js";
import type { GlobalOptions } from "./options.js";
import { newProgram, runProgram, stateDirOf } from "./program.js";
import { addRenderCommand } from "./render-command.js";
import { addRunCommands } from "./run-commands.js";
import { selfCommand } from "./self-command.js";
import { addServiceCommands } from "./service-command.js";
import { addSiteCommands } from "./site-commands.js";
import { addSwitchoverCommand } from "./switchover-command.js";

/**
 * The command line: wiring only, each command in its own module. Kubernetes code is imported only by
 * the commands that use it (the client and the schema models take about a second to load): `status`
 * and the agents that the local target starts again and again stay quick. `switchover` does not even
 * come here: see quick-command.ts.
 */
function buildProgram(): Command {
  const program = newProgram();
  const globals = () => program.opts<GlobalOptions>();
  const local = () => ({ stateDir: stateDirOf(globals()), self: selfCommand() });
  addSiteCommands(program, globals);
  addInspectCommands(program, globals);
  addServiceCommands(program, local);
  addBackupCommands(program, local);
  addChaosCommand(program, () => ({ ...local(), globals: globals() }));
  addRunCommands(program, globals);
  addRenderCommand(program, globals);
  registerApplyCommand(program, globals);
  addSwitchoverCommand(program, globals);
  registerAgentCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  return runProgram(buildProgram(), argv);
}

// Debian's server programs live in sbin folders an ordinary user's PATH lacks; every program hapress
// starts (and the supervisor it spawns) inherits this.
process.env.PATH = withSystemDirs(process.env.PATH);
process.exitCode = await main(process.argv);

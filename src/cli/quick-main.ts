// The quick entry's program: the shared global options and the quick commands only (see quick-command.ts).
import type { GlobalOptions } from "./options.js";
import { newProgram, runProgram } from "./program.js";
import { addSwitchoverCommand } from "./switchover-command.js";

const program = newProgram();
addSwitchoverCommand(program, () => program.opts<GlobalOptions>());
process.exitCode = await runProgram(program, process.argv);

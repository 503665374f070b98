import { Command, CommanderError } from "commander";
import { resolve } from "node:path";
import { describeErrorChain, EXIT_FAILURE, EXIT_USAGE, HapressError, errorMessage } from "../errors.js";
import { HAPRESS_VERSION } from "../version.js";
import type { GlobalOptions } from "./options.js";

/**
 * The program with the options every command shares. Light on purpose: the quick entry builds it too
 * (see quick-command.ts), so nothing here may import a heavy module.
 */
export function newProgram(): Command {
  return new Command("hapress")
    .description("Highly available WordPress with a replicated MariaDB tier, from one spec file")
    .option(
      "-f, --file <file>",
      "site spec (default: hapress.yaml in the current folder; none means all defaults)",
    )
    .option("--dir <dir>", "state folder of the site", ".hapress")
    .option("--debug", "show the chain of causes of an error")
    .version(HAPRESS_VERSION)
    .showHelpAfterError()
    .exitOverride();
}

export function stateDirOf(options: GlobalOptions): string {
  return resolve(options.dir);
}

/** Parses and runs; returns the exit code (0, EXIT_USAGE for bad usage, the error's own code else). */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.help" ||
        error.code === "commander.version"
      )
        return 0;
      return EXIT_USAGE;
    }
    const debug = argv.includes("--debug");
    process.stderr.write(`hapress: ${debug ? describeErrorChain(error) : errorMessage(error)}\n`);
    if (!debug && error instanceof Error && error.cause !== undefined)
      process.stderr.write("(--debug shows the causes)\n");
    return error instanceof HapressError ? error.exitCode : EXIT_FAILURE;
  }
}

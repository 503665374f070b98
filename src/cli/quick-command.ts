/**
 * Commands the quick entry runs without loading the whole command line (the database client, the spec
 * schema, the supervisor: about 150 ms before anything happens). A planned switchover is timed from
 * the moment the operator presses enter, so it is one.
 */
export const QUICK_COMMANDS = ["switchover"] as const;
export type QuickCommand = (typeof QUICK_COMMANDS)[number];

/** Global options that take a value (see program.ts). */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(["-f", "--file", "--dir"]);

/**
 * The command of a command line (arguments after the script) when the quick entry runs it; null sends
 * the line to the full program: any other command, help, the version, or an option the quick entry
 * does not know before the command word.
 */
export function quickCommandOf(args: readonly string[]): QuickCommand | null {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) {
      i++;
      continue;
    }
    if (arg === "--debug" || arg.startsWith("--file=") || arg.startsWith("--dir=") || /^-f./.test(arg))
      continue;
    if (arg.startsWith("-")) return null;
    return (QUICK_COMMANDS as readonly string[]).includes(arg) ? (arg as QuickCommand) : null;
  }
  return null;
}

import type { SelfCommand } from "../platform/local/site-control.js";

/** How the supervisor runs this CLI again: the same node, flags and script. */
export function selfCommand(): SelfCommand {
  return { command: process.execPath, args: [...process.execArgv, process.argv[1] ?? ""] };
}

// What bin/hapress runs: the quick program for the commands that must start at once, the full command
// line for everything else (each module runs its program when loaded).
import { quickCommandOf } from "./quick-command.js";

if (quickCommandOf(process.argv.slice(2)) !== null) await import("./quick-main.js");
else await import("./main.js");

import type { Command } from "commander";
import { createReadStream, existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { InputError } from "../errors.js";
import type { RecordedEvent } from "../platform/local/local-platform.js";
import { statePaths } from "../state/files.js";
import { sleep } from "../util/process.js";
import { parseCount, type GlobalOptions } from "./options.js";
import { stateDirOf } from "./program.js";

/** What the local site wrote down: a pod's log, the controller's events. */
export function addInspectCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command("logs")
    .description("print a pod's log (mysql-0, haproxy, supervisor, ...)")
    .argument("<pod>", "pod name")
    .option("-f, --follow", "keep printing new lines until interrupted")
    .action(async (pod: string, options: { follow?: boolean }) => {
      const paths = statePaths(stateDirOf(globals()));
      if (!/^[a-z0-9-]+$/.test(pod) || !existsSync(paths.podLog(pod))) {
        const available = (await readdir(paths.logs).catch(() => [] as string[]))
          .filter((f) => f.endsWith(".log"))
          .map((f) => f.slice(0, -4));
        throw new InputError(`no log for pod '${pod}'; pods with logs: ${available.join(", ") || "none"}`);
      }
      await printLog(paths.podLog(pod), options.follow === true);
    });

  program
    .command("events")
    .description("the controller's decisions, with their reasons")
    .option("--json", "one JSON array")
    .option("-n, --last <count>", "only the last N events", parseCount(1, 100000))
    .action(async (options: { json?: boolean; last?: number }) => {
      const paths = statePaths(stateDirOf(globals()));
      const text = await readFile(paths.events, "utf8").catch(() => "");
      let events = text
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as RecordedEvent);
      if (options.last !== undefined) events = events.slice(-options.last);
      if (options.json) return console.log(JSON.stringify(events, null, 2));
      for (const e of events) console.log(`${e.time}  ${e.kind.padEnd(18)} ${e.message}`);
    });
}

async function printLog(path: string, follow: boolean): Promise<void> {
  let position = 0;
  const printFrom = async (start: number) => {
    const size = (await stat(path)).size;
    if (size < start) start = 0;
    if (size === start) return size;
    await new Promise<void>((done, fail) => {
      createReadStream(path, { start, end: size - 1 })
        .on("data", (chunk) => process.stdout.write(chunk))
        .on("end", done)
        .on("error", fail);
    });
    return size;
  };
  position = await printFrom(0);
  if (!follow) return;
  let interrupted = false;
  process.on("SIGINT", () => (interrupted = true));
  while (!interrupted) {
    await sleep(500);
    position = await printFrom(position);
  }
}

import { z } from "zod";
import { readFile } from "node:fs/promises";
import { readJsonFile, writeJsonFile } from "../../state/files.js";
import { processExists, sleep } from "../../util/process.js";
import type { ProcessInfo } from "./processes.js";

interface PidRecord {
  pid: number;
  name: string;
}

const pidRecordsSchema = z.array(z.object({ pid: z.number().int().min(2), name: z.string() })).max(10_000);

/** Records the PIDs of the site's processes, so they can be stopped even if the supervisor dies. */
export async function recordPids(path: string, processes: ProcessInfo[]): Promise<void> {
  const records: PidRecord[] = processes
    .filter((p) => p.pid !== null)
    .map((p) => ({ pid: p.pid as number, name: p.name }));
  await writeJsonFile(path, records).catch(() => undefined);
}

async function commandLine(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/**
 * Stops processes recorded by a supervisor that is gone. A PID is only signalled when its command
 * line still names one of this site's folders (its state folder, or its service root when started by
 * root), so a recycled PID of another program is never hit.
 */
export async function killRecordedOrphans(path: string, siteFolders: string[]): Promise<number[]> {
  const records = (await readJsonFile(path, pidRecordsSchema)) ?? [];
  const ours: number[] = [];
  for (const record of records) {
    if (!processExists(record.pid)) continue;
    const line = await commandLine(record.pid);
    if (siteFolders.some((folder) => line.includes(folder))) ours.push(record.pid);
  }
  // Each recorded process leads its own group: signal the group, so its workers go too.
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {
      process.kill(pid, name);
    }
  };
  for (const pid of ours) signal(pid, "SIGTERM");
  for (let i = 0; i < 300 && ours.some(processExists); i++) await sleep(100);
  for (const pid of ours.filter(processExists)) signal(pid, "SIGKILL");
  await writeJsonFile(path, []).catch(() => undefined);
  return ours;
}

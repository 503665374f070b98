import { z } from "zod";
import { readFile } from "node:fs/promises";
import { readJsonFile, writeJsonFile } from "../../state/files.js";
import { processExists, signalGroup, signalProcess, sleep } from "../../util/process.js";
import { leaderlessGroupMembers, procIdentity } from "./proc.js";
import type { ProcessRecord } from "./processes.js";

/**
 * pids.json: who the site's processes are (PID and start time) and how they were started, written by
 * the supervisor at every change. Its successor adopts the ones still running (see partitionRecords);
 * `down` stops them when no supervisor is left.
 */
const recordSchema = z.object({
  name: z.string().min(1).max(200),
  pod: z.string().min(1).max(100),
  pid: z.number().int().min(2),
  startTicks: z.number().int().min(0),
  command: z.string().min(1),
  args: z.array(z.string()).max(100),
  logFile: z.string().min(1),
  drainSignal: z.enum(["SIGQUIT", "SIGTERM", "SIGINT"]).optional(),
});
/** Written by hapress before adoption existed: PID and name only. */
const legacyRecordSchema = z.object({ pid: z.number().int().min(2), name: z.string() });
const recordsSchema = z.array(z.union([recordSchema, legacyRecordSchema])).max(10_000);

type LegacyRecord = z.infer<typeof legacyRecordSchema>;

function isFull(record: ProcessRecord | LegacyRecord): record is ProcessRecord {
  return "startTicks" in record;
}

/** Serialises the writes: the newest list always lands last, whatever order the writes finish in. */
export class ProcessRecordWriter {
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly path: string) {}

  write(records: ProcessRecord[]): Promise<void> {
    this.chain = this.chain.then(() => writeJsonFile(this.path, records).catch(() => undefined));
    return this.chain;
  }
}

export async function readProcessRecords(path: string): Promise<(ProcessRecord | LegacyRecord)[]> {
  return (await readJsonFile(path, recordsSchema)) ?? [];
}

/**
 * Which recorded processes a new supervisor may adopt: those whose PID still has the recorded start
 * time (the same process, never a recycled PID). A legacy record (no start time) cannot be proven
 * and is left to killRecordedOrphans. Pure: the identity lookup is passed in.
 */
export function adoptableRecords(
  records: (ProcessRecord | LegacyRecord)[],
  startTicksOf: (pid: number) => number | null,
): ProcessRecord[] {
  const seen = new Set<string>();
  return records.filter(isFull).filter((record) => {
    if (seen.has(record.name) || startTicksOf(record.pid) !== record.startTicks) return false;
    seen.add(record.name);
    return true;
  });
}

/** The recorded processes that still run (a supervisor that died leaves them serving). */
export async function runningRecordedProcesses(path: string): Promise<ProcessRecord[]> {
  return adoptableRecords(await readProcessRecords(path), liveStartTicks);
}

export function liveStartTicks(pid: number): number | null {
  return procIdentity(pid)?.startTicks ?? null;
}

/** A process's command line, its arguments joined by spaces ("" when it is gone). */
export async function commandLine(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/**
 * Stops processes recorded by a supervisor that is gone. A PID is signalled only when it is still the
 * recorded process (same start time) or, for a legacy record, when its command line still names one
 * of this site's folders, so a recycled PID of another program is never hit.
 */
export async function killRecordedOrphans(path: string, siteFolders: string[]): Promise<number[]> {
  const records = await readProcessRecords(path);
  const ours: number[] = [];
  for (const record of records) {
    if (!processExists(record.pid)) continue;
    if (isFull(record)) {
      if (liveStartTicks(record.pid) === record.startTicks) ours.push(record.pid);
      continue;
    }
    const line = await commandLine(record.pid);
    if (siteFolders.some((folder) => line.includes(folder))) ours.push(record.pid);
  }
  // Each recorded process leads its own group: signal the group, so its workers go too.
  const signal = (pid: number, name: NodeJS.Signals) => signalGroup(pid, name) || signalProcess(pid, name);
  for (const pid of ours) signal(pid, "SIGTERM");
  for (let i = 0; i < 300 && ours.some(processExists); i++) await sleep(100);
  for (const pid of ours.filter(processExists)) signal(pid, "SIGKILL");
  await writeJsonFile(path, []).catch(() => undefined);
  return ours;
}

/**
 * Kills what recorded processes that died without their supervisor left behind: the members of their
 * groups (a killed php-fpm or nginx master leaves its workers holding the socket and the port, and
 * every restart would fail to bind). Returns the PIDs killed.
 */
export async function killLeftoverGroups(path: string): Promise<number[]> {
  const killed: number[] = [];
  for (const record of await readProcessRecords(path)) {
    if (isFull(record) && liveStartTicks(record.pid) === record.startTicks) continue;
    for (const pid of leaderlessGroupMembers(record.pid)) {
      if (signalProcess(pid, "SIGKILL")) killed.push(pid);
    }
  }
  return killed;
}

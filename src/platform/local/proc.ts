import { readdirSync, readFileSync } from "node:fs";
import { readlink, stat } from "node:fs/promises";

/**
 * Who a PID is, from /proc: a PID alone can be recycled by another program once its process has
 * gone, but a PID with the same start time (clock ticks after boot) is the same process.
 */
export interface ProcIdentity {
  pid: number;
  /** One letter: R, S, D, T, Z (a zombie has exited; only its parent's wait is missing)… */
  state: string;
  startTicks: number;
  /** Its process group (field 5). */
  group: number;
}

/**
 * Parses /proc/PID/stat. The command name (field 2) is in parentheses and may itself hold spaces
 * or parentheses, so fields are counted from the last ')': state is field 3, starttime field 22.
 */
export function parseProcStat(pid: number, text: string): ProcIdentity | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const state = fields[0];
  const startTicks = Number(fields[19]);
  const group = Number(fields[2]);
  if (!state || !Number.isSafeInteger(startTicks)) return null;
  return { pid, state, startTicks, group };
}

/** The identity of a live process, or null when it has gone (an exited zombie counts as gone). */
export function procIdentity(pid: number): ProcIdentity | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const identity = parseProcStat(pid, text);
  return identity && identity.state !== "Z" && identity.state !== "X" ? identity : null;
}

/** True while the process that had this PID and start time is still running. */
export function sameProcessRunning(pid: number, startTicks: number): boolean {
  return procIdentity(pid)?.startTicks === startTicks;
}

/**
 * The live members of process group `group` whose leader (PID `group`) is gone: the workers a
 * killed leader left behind. Empty while the leader runs: then the group may be another program's
 * (a PID that leads a group cannot be handed to a new process while the group has members, so a
 * group without its leader is the old leader's).
 */
export function leaderlessGroupMembers(group: number): number[] {
  if (procIdentity(group) !== null) return [];
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const identity = procIdentity(Number(entry));
    if (identity?.group === group) members.push(identity.pid);
  }
  return members;
}

/**
 * Whether the program a process runs was replaced on disk since it started: a package upgrade
 * (`apt upgrade mariadb-server`) renames the new file over the old one, so /proc/PID/exe still opens
 * the old file while its path names another. False when it cannot be told (the process gone, no
 * permission to look) or when the file was removed with nothing in its place: nothing newer to run.
 */
export async function executableReplaced(pid: number): Promise<boolean> {
  try {
    const path = (await readlink(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, "");
    const [running, onDisk] = await Promise.all([stat(`/proc/${pid}/exe`), stat(path)]);
    return running.ino !== onDisk.ino || running.dev !== onDisk.dev;
  } catch {
    return false;
  }
}

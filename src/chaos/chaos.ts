import { HapressError } from "../errors.js";
import { liveStatus } from "../platform/local/site-control.js";
import type { SiteStatus } from "../platform/local/status.js";
import { statePaths } from "../state/files.js";
import { loadSecrets } from "../state/secrets.js";
import { sleep } from "../util/process.js";
import { appWriter } from "./writer.js";

export type Fault = "kill" | "hang";

export interface ChaosRun {
  fault: Fault;
  oldPrimary: string;
  newPrimary: string;
  /** Longest gap between two acknowledged inserts: the write outage a client felt. */
  outageMs: number;
  failedAttempts: number;
  acknowledged: number;
  /** Acknowledged inserts missing from the new primary: must be 0. */
  lost: number;
}

async function status(stateDir: string): Promise<SiteStatus> {
  const current = await liveStatus(stateDir);
  if (!current) throw new HapressError(`the site in ${stateDir} is not running: run 'hapress up'`);
  return current;
}

/** Waits until the site is ready and every replica has caught up with the primary, bounded. */
async function waitForSettled(stateDir: string, timeoutMs: number): Promise<SiteStatus> {
  const deadline = Date.now() + timeoutMs;
  let stable = 0;
  while (Date.now() < deadline) {
    const current = await status(stateDir);
    const mysql = current.pods.filter((p) => p.component === "mysql");
    const primaryGtid = mysql.find((p) => p.name === current.primary)?.gtid;
    const settled = current.ready && mysql.every((p) => p.ready && p.gtid === primaryGtid);
    stable = settled ? stable + 1 : 0;
    if (stable >= 3) return current;
    await sleep(500);
  }
  throw new HapressError(`the site did not settle within ${timeoutMs / 1000} s`);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/**
 * The tutorial's resilience test, measured: a client inserts through `mysql-primary` while the
 * primary's mariadbd is killed (kill -9) or hung (SIGSTOP); we report the outage it felt and any
 * acknowledged insert missing from the new primary.
 */
export async function runChaos(
  stateDir: string,
  fault: Fault,
  report: (line: string) => void,
  options: { cooldownMs?: number; timeoutMs?: number } = {},
): Promise<ChaosRun> {
  const before = await waitForSettled(stateDir, options.timeoutMs ?? 180_000);
  const oldPrimary = before.primary ?? "";
  const pid = before.pods.find((p) => p.name === oldPrimary)?.pids[0];
  if (!pid) throw new HapressError("the primary has no running mariadbd to inject a fault into");
  if (before.pods.filter((p) => p.component === "mysql").length < 2) {
    throw new HapressError("chaos needs at least 2 database instances: nothing could take over");
  }
  const secrets = await loadSecrets(statePaths(stateDir).secrets);
  const writer = appWriter(before.endpoints.mysqlPrimary, secrets);
  await writer.prepare();
  writer.start();
  await sleep(1000);
  report(`${fault === "kill" ? "kill -9" : "SIGSTOP"} of ${oldPrimary}'s mariadbd (pid ${pid}) under writes`);
  signal(pid, fault === "kill" ? "SIGKILL" : "SIGSTOP");
  let newPrimary = oldPrimary;
  const deadline = Date.now() + (options.timeoutMs ?? 180_000);
  while (newPrimary === oldPrimary && Date.now() < deadline) {
    await sleep(200);
    const current = await status(stateDir);
    if (current.ready) newPrimary = current.primary ?? oldPrimary;
  }
  if (fault === "hang") signal(pid, "SIGCONT");
  await sleep(1000);
  const result = await writer.stop();
  if (newPrimary === oldPrimary)
    throw new HapressError(`no new primary within the deadline; see 'hapress events'`);
  const address = (await status(stateDir)).pods.find((p) => p.name === newPrimary);
  const missing = await writer.missingOn(
    { host: address?.address ?? "", port: address?.port ?? 3306 },
    result.acknowledged,
  );
  await waitForSettled(stateDir, options.timeoutMs ?? 180_000);
  // The controller will not fail over again within its cooldown.
  await sleep(options.cooldownMs ?? 3500);
  return {
    fault,
    oldPrimary,
    newPrimary,
    outageMs: result.longestGapMs,
    failedAttempts: result.failedAttempts,
    acknowledged: result.acknowledged.length,
    lost: missing.length,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

/** One line per fault: median and max outage, and writes lost. */
export function summarize(runs: ChaosRun[]): string[] {
  const lines: string[] = [];
  for (const fault of ["kill", "hang"] as const) {
    const ofFault = runs.filter((r) => r.fault === fault);
    if (ofFault.length === 0) continue;
    const outages = ofFault.map((r) => r.outageMs / 1000);
    lines.push(
      `${fault === "kill" ? "kill -9" : "SIGSTOP"}: ${ofFault.length} runs; write outage median ${median(outages).toFixed(2)} s, max ${Math.max(...outages).toFixed(2)} s; failed attempts ${ofFault.reduce((s, r) => s + r.failedAttempts, 0)}; acknowledged writes ${ofFault.reduce((s, r) => s + r.acknowledged, 0)}, lost ${ofFault.reduce((s, r) => s + r.lost, 0)}`,
    );
  }
  return lines;
}

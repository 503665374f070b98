// The parts scenarios are made of: what a scenario is and may use, and the steps several share.
import type { SiteStatus } from "../status/site-status.js";
import type { ChaosTarget, FaultPort } from "./faults.js";
import { newPrimary, readyWithPodBack } from "./site-waits.js";

/** What a scenario may use while it runs (see runner.ts). */
export interface ScenarioContext {
  faults: FaultPort;
  /** Which run of the scenario this is (1, 2…): a scenario may pick its victim by it. */
  run: number;
  /** Waits (bounded) until the site's status satisfies `check`; the timeout names `what`. */
  waitFor(what: string, check: (status: SiteStatus) => boolean, timeoutMs?: number): Promise<SiteStatus>;
  /**
   * Waits (bounded, polling every `faults.eventPollMs`) for a controller event of this kind (or of
   * one of these kinds) since the run began; returns the kinds seen so far, in order.
   */
  waitForEvent(kind: string | readonly string[], timeoutMs?: number): Promise<string[]>;
  /** A point on the run's timeline ("fault", "recovered"...), shown in the report. */
  mark(label: string): void;
  log(line: string): void;
  sleep(ms: number): Promise<void>;
  /** How long the saturation scenario keeps the cores busy. */
  saturationMs: number;
}

export interface Scenario {
  name: string;
  /** The fault, in words (the report's and the log's). */
  fault: string;
  /** Whether the primary must change, must not, or may (counted from the primary record's epoch). */
  failover: "required" | "forbidden" | "allowed";
  /** Where its fault exists: a process signal is local here, a pod deleted through the API is Kubernetes'. */
  targets: readonly ChaosTarget[];
  /** Why it cannot run on this site (skipped, and said), or null. */
  unsupported(status: SiteStatus, faults: FaultPort): string | null;
  run(ctx: ScenarioContext): Promise<void>;
}

export function database(status: SiteStatus) {
  return status.pods.filter((p) => p.component === "mysql");
}

export function wordpress(status: SiteStatus) {
  return status.pods.filter((p) => p.component === "wordpress");
}

export const needsReplicas = (n: number) => (status: SiteStatus) =>
  database(status).length >= n + 1
    ? null
    : `needs ${n + 1} database instances (the site has ${database(status).length})`;

export const needsWordpress = (n: number) => (status: SiteStatus) =>
  wordpress(status).length >= n
    ? null
    : `needs ${n} WordPress pod(s) (the site has ${wordpress(status).length})`;

/** What changes when a pod's process is started again: its first process id (local), its restarts (both). */
function incarnation(status: SiteStatus, pod: string): { pid: number; restarts: number } {
  const found = status.pods.find((p) => p.name === pod);
  return { pid: found?.pids[0] ?? 0, restarts: found?.restarts ?? 0 };
}

/** Kills a pod's processes and waits (bounded) until a new one runs and the pod is ready. */
export async function killAndAwaitRestart(ctx: ScenarioContext, pod: string, label: string): Promise<void> {
  const before = incarnation(await ctx.faults.status(), pod);
  ctx.mark(label);
  await ctx.faults.signalPod(pod, "SIGKILL");
  await ctx.waitFor(`${pod} restarted`, (s) => {
    const now = incarnation(s, pod);
    const restarted = (now.pid !== 0 && now.pid !== before.pid) || now.restarts > before.restarts;
    return restarted && s.pods.some((p) => p.name === pod && p.ready);
  });
  ctx.mark(`${pod} restarted`);
}

export async function killPrimary(ctx: ScenarioContext, how: "SIGKILL" | "SIGSTOP"): Promise<void> {
  const before = await ctx.faults.status();
  ctx.mark(`${how === "SIGKILL" ? "kill -9" : "SIGSTOP"} ${before.primary ?? "?"}`);
  await ctx.faults.signalPod(before.primary ?? "", how);
  const after = await ctx.waitFor("a new primary", newPrimary(before.primary));
  ctx.mark(`${after.primary ?? "?"} primary`);
  if (how === "SIGSTOP") {
    await ctx.faults.signalPod(before.primary ?? "", "SIGCONT");
    ctx.mark(`SIGCONT ${before.primary ?? "?"}`);
  }
}

/** Deletes a pod through the API (returns once the old pod is gone) and waits until it is ready again. */
export async function deleteAndAwaitReady(ctx: ScenarioContext, pod: string, force = false): Promise<void> {
  ctx.mark(`delete pod ${pod}${force ? " --force" : ""}`);
  await ctx.faults.deletePod(pod, { force });
  await ctx.waitFor(`${pod} back and ready`, (s) => s.pods.some((p) => p.name === pod && p.ready));
  ctx.mark(`${pod} ready`);
}

export async function deletePrimaryPod(ctx: ScenarioContext, force: boolean): Promise<void> {
  const before = await ctx.faults.status();
  const primary = before.primary ?? "";
  ctx.mark(`delete pod ${primary}${force ? " --force" : ""}`);
  await ctx.faults.deletePod(primary, { force });
  // Deleted at once, the pod is made again on the same volume and may be the primary again before
  // the controller concludes that it died (the scenario allows no failover then); a graceful delete
  // stops it first, and the controller must fail over.
  const after = force
    ? await ctx.waitFor(`a primary, ready, and ${primary} back`, readyWithPodBack(primary))
    : await ctx.waitFor("a new primary", newPrimary(primary));
  ctx.mark(`${after.primary ?? "?"} primary`);
}

/**
 * The primary stopped (SIGSTOP); the leading controller stopped by `stopLeader` (which says how) as
 * soon as it says the failover began; its successor must finish the failover. SIGCONT at the end.
 */
export async function hangPrimaryAndStopLeader(
  ctx: ScenarioContext,
  stopLeader: () => Promise<string>,
): Promise<void> {
  const primary = (await ctx.faults.status()).primary ?? "";
  ctx.mark(`SIGSTOP ${primary}`);
  await ctx.faults.signalPod(primary, "SIGSTOP");
  try {
    const seen = await ctx.waitForEvent("failover-started");
    const how = await stopLeader();
    // Said as it was: the stop may land after the promotion on a fast machine.
    ctx.mark(`${how} (${seen.includes("promoted") ? "after" : "before"} the promotion)`);
    const after = await ctx.waitFor("a new primary", newPrimary(primary));
    ctx.mark(`${after.primary ?? "?"} primary`);
  } finally {
    await ctx.faults.signalPod(primary, "SIGCONT");
    ctx.mark(`SIGCONT ${primary}`);
  }
}

/** Longer than the controller's failover cooldown (decide.ts, 3 s). */
export const COOLDOWN_MARGIN_MS = 4_000;

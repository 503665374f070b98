import { errorMessage, HapressError } from "../errors.js";
import type { SiteStatus } from "../status/site-status.js";

/**
 * Waiting on a site's status, shared by the chaos runner, its scenarios and the integration tests:
 * one definition of "a new primary" and of "whole again".
 */

export function databasePods(status: SiteStatus) {
  return status.pods.filter((p) => p.component === "mysql");
}

/**
 * The topology whole: ready, every pod ready, every replica streaming and caught up (under writes
 * their GTID trails the primary's by a few transactions at any instant: lag, not equality), semi-sync
 * on when there are replicas.
 */
export function isWhole(status: SiteStatus): boolean {
  const mysql = databasePods(status);
  return (
    status.ready &&
    status.pods.every((p) => p.ready) &&
    mysql.every(
      (p) =>
        p.name === status.primary || (p.role === "replica" && p.lagSeconds !== null && p.lagSeconds <= 1),
    ) &&
    (mysql.length < 2 || status.database.semiSync === "on")
  );
}

/** The primary has changed from `from` and the site is ready again. */
export const newPrimary = (from: string | null) => (status: SiteStatus) =>
  status.primary !== null && status.primary !== from && status.ready;

/**
 * The primary has changed from `from` and its pod is ready; not the whole site, which cannot be
 * ready while a partition keeps the old primary from rejoining.
 */
export const newPrimaryReady = (from: string | null) => (status: SiteStatus) =>
  status.primary !== null &&
  status.primary !== from &&
  status.pods.some((p) => p.name === status.primary && p.ready);

/**
 * The site ready with `pod`, deleted, back and ready: whoever is the primary now (a pod made again at
 * once may be the primary again before the controller concludes that it died).
 */
export const readyWithPodBack = (pod: string) => (status: SiteStatus) =>
  status.primary !== null && status.ready && status.pods.some((p) => p.name === pod && p.ready);

export interface WaitOptions {
  /** Where the status comes from (the CLI's `status`, the supervisor, a test site). */
  status: () => Promise<SiteStatus>;
  sleep: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Bounded waiting on the site's status: polls every 200 ms; a status that cannot be read is retried. */
export async function waitForStatus(
  options: WaitOptions,
  what: string,
  check: (status: SiteStatus) => boolean,
  timeoutMs: number,
): Promise<SiteStatus> {
  const now = options.now ?? Date.now;
  const deadline = now() + timeoutMs;
  let last: string = "no status yet";
  while (now() < deadline) {
    try {
      const status = await options.status();
      if (check(status)) return status;
      last = `primary ${status.primary ?? "none"}, ${status.ready ? "ready" : "not ready"}, not ready: ${
        status.pods
          .filter((p) => !p.ready)
          .map((p) => p.name)
          .join(", ") || "none"
      }`;
    } catch (error) {
      last = errorMessage(error);
    }
    await options.sleep(200);
  }
  throw new HapressError(
    `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what} (last: ${last})`,
  );
}

// The overload benchmark: an open-loop client inserting at a fixed rate through mysql-primary, each
// attempt on a pooled connection with a 500 ms connect and 2 s query timeout, so attempts pile up
// (up to 3,000 at once) whenever the database stalls, as PHP workers and app servers do.
import mysql from "mysql2/promise";
import type { SiteStatus } from "../src/status/site-status.js";
import type { Secrets } from "../src/state/secrets.js";

/** Attempts waiting at once, at most, unless a run sets its own bound. */
export const MAX_IN_FLIGHT = 3000;

export interface OpenLoopReport {
  attempted: number;
  acknowledged: number[];
  failed: number;
  /** Attempts not even started because the bound of attempts in flight was reached. */
  shed: number;
  maxInFlight: number;
  /** Longest time without an acknowledged insert, in ms. */
  longestGapMs: number;
  /** Every attempt that was started: when (epoch ms), when it ended, and how (ok or the error's code). */
  attempts: AttemptRecord[];
  /** When the fault ran (epoch ms), if it did. */
  faultAt: number | null;
}

export interface AttemptRecord {
  start: number;
  end: number;
  outcome: string;
}

/**
 * Runs the open-loop writer for `seconds`; `fault.run` runs once at `fault.atMs`. `maxInFlight` bounds
 * the attempts waiting at once (64: a client bounded like php-fpm's workers; attempts due while it is
 * full are shed and counted).
 */
export async function openLoopWrites(
  endpoint: { host: string; port: number },
  secrets: Secrets,
  rate: number,
  seconds: number,
  fault?: { atMs: number; run: () => Promise<void> },
  maxInFlight = MAX_IN_FLIGHT,
): Promise<OpenLoopReport> {
  // A plain pool: idle connections are reused, a failed one is destroyed (never kept), a new one is
  // opened when none is idle. Measured: while the primary is down, each pending connection attempt
  // holds about 0.85 MB of heap, so 3,000 in flight need ~3 GB: `npm run bench` gives Node a 12 GB heap.
  const idle: mysql.Connection[] = [];
  const open = () =>
    mysql.createConnection({
      host: endpoint.host,
      port: endpoint.port,
      user: secrets.appUser,
      password: secrets.appPassword,
      database: secrets.appDatabase,
      connectTimeout: 500,
    });
  const attempt = async (id: number) => {
    let connection = idle.pop();
    if (!connection) {
      connection = await open();
      connection.on("error", () => undefined);
    }
    try {
      await connection.query({
        sql: "INSERT INTO hapress_overload (id) VALUES (?)",
        values: [id],
        timeout: 2000,
      });
    } catch (error) {
      connection.destroy();
      throw error;
    }
    idle.push(connection);
  };
  const setup = await open();
  await setup.query("CREATE TABLE IF NOT EXISTS hapress_overload (id BIGINT PRIMARY KEY)");
  await setup.end();
  const acknowledged: number[] = [];
  let failed = 0;
  let shed = 0;
  let inFlight = 0;
  let mostInFlight = 0;
  let lastAck = Date.now();
  let longestGapMs = 0;
  const started = Date.now();
  const base = started * 1000;
  const pending: Promise<void>[] = [];
  const attempts: AttemptRecord[] = [];
  let faultDone: Promise<void> | null = null;
  let faultAt: number | null = null;
  const total = rate * seconds;
  for (let i = 0; i < total; i++) {
    // Open loop: attempt i starts at its scheduled time, whatever became of the earlier ones.
    const due = started + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (fault && !faultDone && Date.now() - started >= fault.atMs) {
      faultAt = Date.now();
      faultDone = fault.run();
    }
    if (inFlight >= maxInFlight) {
      shed++;
      continue;
    }
    const id = base + i;
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    const start = Date.now();
    pending.push(
      attempt(id)
        .then(
          () => {
            const now = Date.now();
            longestGapMs = Math.max(longestGapMs, now - lastAck);
            lastAck = now;
            acknowledged.push(id);
            attempts.push({ start, end: now, outcome: "ok" });
          },
          (error: unknown) => {
            failed++;
            const code = (error as { code?: unknown }).code;
            attempts.push({ start, end: Date.now(), outcome: typeof code === "string" ? code : "error" });
          },
        )
        .finally(() => inFlight--),
    );
  }
  await Promise.all(pending);
  await faultDone;
  longestGapMs = Math.max(longestGapMs, Date.now() - lastAck);
  for (const connection of idle.splice(0)) connection.destroy();
  return {
    attempted: total,
    acknowledged,
    failed,
    shed,
    maxInFlight: mostInFlight,
    longestGapMs,
    attempts,
    faultAt,
  };
}

/**
 * Where a loaded failover's seconds go: from 1 s before the fault to `afterMs` after it, per `stepMs`,
 * the attempts that ended (acknowledged, or failed by error code) and the longest-waiting one, with
 * the site's own lines (controller events, supervisor log) placed at their time since the fault.
 */
export function failoverTimeline(
  report: OpenLoopReport,
  siteLines: { at: number; text: string }[],
  stepMs = 100,
  afterMs = 6000,
): string[] {
  const fault = report.faultAt;
  if (fault === null) return [];
  const rows: { at: number; text: string }[] = [];
  for (let from = fault - 1000; from < fault + afterMs; from += stepMs) {
    const ended = report.attempts.filter((a) => a.end >= from && a.end < from + stepMs);
    if (ended.length === 0) continue;
    const outcomes = new Map<string, number>();
    for (const a of ended) outcomes.set(a.outcome, (outcomes.get(a.outcome) ?? 0) + 1);
    const slowest = Math.max(...ended.map((a) => a.end - a.start));
    const summary = [...outcomes].map(([outcome, n]) => `${outcome} ${n}`).join(", ");
    rows.push({ at: from, text: `client: ${summary}; slowest ${slowest} ms` });
  }
  for (const line of siteLines) {
    if (line.at >= fault - 1000 && line.at < fault + afterMs) rows.push(line);
  }
  return rows
    .sort((a, b) => a.at - b.at)
    .map((row) => `${((row.at - fault) / 1000).toFixed(2).padStart(6)} s  ${row.text}`);
}

/** The acknowledged ids missing on the current primary (read on its own address). */
export async function missingOnPrimary(status: SiteStatus, secrets: Secrets, ids: number[]): Promise<number> {
  const primary = status.pods.find((p) => p.name === status.primary);
  const connection = await mysql.createConnection({
    host: primary?.address,
    port: primary?.port ?? 3306,
    user: secrets.appUser,
    password: secrets.appPassword,
    database: secrets.appDatabase,
  });
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>("SELECT id FROM hapress_overload");
    const present = new Set(rows.map((r) => Number(r.id)));
    return ids.filter((id) => !present.has(id)).length;
  } finally {
    await connection.end();
  }
}

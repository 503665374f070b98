import { CronExpressionParser } from "cron-parser";

/**
 * Scheduled backups and their retention, the decision part (pure). A schedule is a cron expression
 * (5 fields, or 6 with seconds first), read by cron-parser and evaluated in UTC, so a schedule means
 * the same on every machine whatever its time zone.
 */

/** The error cron-parser gives for a bad expression, or null when it is good. */
export function scheduleProblem(expression: string): string | null {
  try {
    CronExpressionParser.parse(expression, { tz: "UTC" });
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The first time strictly after `after` that the schedule names. */
export function nextRun(expression: string, after: Date): Date {
  return CronExpressionParser.parse(expression, { tz: "UTC", currentDate: after }).next().toDate();
}

/**
 * The longest wait between two runs of the schedule over its next `runs` runs, in seconds: how old
 * the newest backup may grow before the schedule has surely missed one (a weekday schedule waits
 * three days over a weekend, not one).
 */
export function longestScheduleGapSeconds(expression: string, after: Date, runs = 32): number {
  const expressionRuns = CronExpressionParser.parse(expression, { tz: "UTC", currentDate: after });
  let previous = expressionRuns.next().toDate().getTime();
  let longest = 0;
  for (let i = 1; i < runs; i++) {
    const current = expressionRuns.next().toDate().getTime();
    longest = Math.max(longest, (current - previous) / 1000);
    previous = current;
  }
  return longest;
}

export interface Retention {
  /** Keep at least the newest `count` backups. */
  count?: number;
  /** Keep every backup younger than this many days. */
  days?: number;
}

/**
 * Which backups retention removes: those that neither rule keeps (one of the newest `count`, or
 * younger than `days`). With no rule, nothing goes; the newest backup always stays.
 */
export function backupsToPrune(
  backups: readonly { name: string; createdAt: string }[],
  keep: Retention,
  now: Date,
): string[] {
  if (keep.count === undefined && keep.days === undefined) return [];
  const newestFirst = [...backups].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  return newestFirst
    .filter((backup, index) => {
      if (index === 0) return false;
      const byCount = keep.count !== undefined && index < keep.count;
      const byAge =
        keep.days !== undefined && now.getTime() - Date.parse(backup.createdAt) < keep.days * 86_400_000;
      return !byCount && !byAge;
    })
    .map((backup) => backup.name);
}

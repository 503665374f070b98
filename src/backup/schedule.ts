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

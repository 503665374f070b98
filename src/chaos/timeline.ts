/**
 * What clients saw during a chaos run, as data (pure): each request's end time and outcome per
 * channel, reduced to availability, the longest outage and 100 ms buckets for the report's timeline.
 */

export type Channel = "read" | "write";

export interface Sample {
  /** When the request ended, in ms since the epoch. */
  at: number;
  ok: boolean;
  /** Why it failed, in the client's words. */
  error?: string;
}

export interface ChannelSummary {
  requests: number;
  failed: number;
  /** Share of successful requests, in percent (100 with no request at all). */
  availability: number;
  /**
   * Longest time without a success while the channel was exercised, in ms: from the run's start (or
   * the last success) to the next success, or to the run's end.
   */
  longestOutageMs: number;
  /** The distinct reasons requests failed (at most 5), each with how many times. */
  errors: { message: string; count: number }[];
}

export function summarizeChannel(samples: readonly Sample[], start: number, end: number): ChannelSummary {
  const sorted = [...samples].sort((a, b) => a.at - b.at);
  const failed = sorted.filter((s) => !s.ok).length;
  let last = start;
  let longest = 0;
  for (const sample of sorted) {
    if (!sample.ok) continue;
    longest = Math.max(longest, sample.at - last);
    last = sample.at;
  }
  if (sorted.length > 0) longest = Math.max(longest, end - last);
  const errors = new Map<string, number>();
  for (const sample of sorted)
    if (!sample.ok) errors.set(sample.error ?? "?", (errors.get(sample.error ?? "?") ?? 0) + 1);
  return {
    errors: [...errors].slice(0, 5).map(([message, count]) => ({ message, count })),
    requests: sorted.length,
    failed,
    availability: sorted.length === 0 ? 100 : (100 * (sorted.length - failed)) / sorted.length,
    longestOutageMs: longest,
  };
}

export interface Bucket {
  ok: number;
  failed: number;
}

/** Successes and failures per `widthMs` from `start` to `end` (the report's bars). */
export function bucketize(samples: readonly Sample[], start: number, end: number, widthMs = 100): Bucket[] {
  const count = Math.max(1, Math.ceil((end - start) / widthMs));
  const buckets: Bucket[] = Array.from({ length: count }, () => ({ ok: 0, failed: 0 }));
  for (const sample of samples) {
    const index = Math.floor((sample.at - start) / widthMs);
    const bucket = buckets[Math.min(count - 1, Math.max(0, index))];
    if (!bucket) continue;
    if (sample.ok) bucket.ok++;
    else bucket.failed++;
  }
  return buckets;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

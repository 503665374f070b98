import { z } from "zod";
import { InputError } from "../errors.js";

/**
 * A planned switchover is a durable request, written where the controller's memory lives (the state
 * folder locally, the `hapress-state` ConfigMap on Kubernetes) and read by the controller in every
 * round: a controller that restarts, or a successor elected mid-way, finds it and carries on. The
 * requester writes the request; only the controller writes its progress, one step at a time, which
 * `hapress switchover` prints while it waits.
 */
/** The longest a target may be given to catch up: an hour (writes wait all that time). */
export const MAX_SWITCHOVER_DEADLINE_MS = 3_600_000;

export const switchoverRequestSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{8,32}$/),
  /** The replica to promote; null: the most advanced one. */
  to: z
    .string()
    .regex(/^mysql-\d+$/)
    .nullable(),
  /** How long the target may take to apply everything once the primary is read-only (at most an hour). */
  deadlineMs: z.number().int().positive().max(MAX_SWITCHOVER_DEADLINE_MS),
  requestedBy: z.string().max(200),
  requestedAt: z.string(),
  /**
   * A request no controller has taken up by then is refused: a controller that comes back an hour
   * later must not switch over on a request its requester gave up on.
   */
  expiresAt: z.string(),
});
export type SwitchoverRequest = z.infer<typeof switchoverRequestSchema>;

export const switchoverProgressSchema = z.object({
  id: z.string(),
  outcome: z.enum(["running", "done", "failed"]),
  steps: z.array(z.object({ at: z.string(), message: z.string() })).max(50),
});
export type SwitchoverProgress = z.infer<typeof switchoverProgressSchema>;
export type SwitchoverOutcome = SwitchoverProgress["outcome"];

/** How long past its deadline a switchover with no new step is taken as abandoned. */
const STALE_AFTER_MS = 60_000;

/** How long a request waits for a controller to take it up. */
export const SWITCHOVER_REQUEST_TTL_MS = 30_000;

export function newSwitchoverRequest(options: {
  id: string;
  to: string | null;
  deadlineMs: number;
  requestedBy: string;
  now: Date;
}): SwitchoverRequest {
  // Checked against the schema the controller reads it with before it is written: a request the
  // controller could not read would sit there unread (see Controller.observe).
  const request = switchoverRequestSchema.safeParse({
    id: options.id,
    to: options.to,
    deadlineMs: options.deadlineMs,
    requestedBy: options.requestedBy.slice(0, 200),
    requestedAt: options.now.toISOString(),
    expiresAt: new Date(options.now.getTime() + SWITCHOVER_REQUEST_TTL_MS).toISOString(),
  });
  if (!request.success) {
    const issue = request.error.issues[0];
    throw new InputError(
      `switchover request: ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "does not fit"} (e.g. --to mysql-1 --timeout 10)`,
    );
  }
  return request.data;
}

/** The progress with one more step; a step of another request starts a new record. */
export function withStep(
  progress: SwitchoverProgress | null,
  id: string,
  step: { at: string; message: string },
  outcome: SwitchoverOutcome,
): SwitchoverProgress {
  const steps = progress?.id === id ? progress.steps : [];
  return { id, outcome, steps: [...steps, step].slice(-50) };
}

/** The request when the controller has not finished it (no progress, or progress still running). */
export function unfinished(
  request: SwitchoverRequest | null,
  progress: SwitchoverProgress | null,
): SwitchoverRequest | null {
  if (!request) return null;
  if (progress?.id === request.id && progress.outcome !== "running") return null;
  return request;
}

/**
 * Why a new request may not be written now, or null: one is in progress (taken up, or waiting and not
 * expired).
 */
export function busyReason(
  request: SwitchoverRequest | null,
  progress: SwitchoverProgress | null,
  now: Date,
): string | null {
  const open = unfinished(request, progress);
  if (!open) return null;
  const taken = progress?.id === open.id;
  if (!taken && Date.parse(open.expiresAt) < now.getTime()) return null;
  // Taken up but silent for far longer than its deadline: no controller is carrying it on.
  const lastStep = progress?.steps.at(-1)?.at;
  if (taken && lastStep && Date.parse(lastStep) + open.deadlineMs + STALE_AFTER_MS < now.getTime())
    return null;
  return `a switchover requested by ${open.requestedBy} at ${open.requestedAt} is ${taken ? "in progress" : "waiting for the controller"}`;
}

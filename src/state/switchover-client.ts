import { randomBytes } from "node:crypto";
import { userInfo, hostname } from "node:os";
import { HapressError } from "../errors.js";
import type { SwitchoverStore } from "./switchover-store.js";
import { newSwitchoverRequest, SWITCHOVER_REQUEST_TTL_MS } from "./switchover-request.js";

/** How long past the target's deadline the requester waits for the controller's last word. */
const OUTCOME_GRACE_MS = 30_000;

export interface SwitchoverOptions {
  to: string | null;
  deadlineMs: number;
  /** Tells the controller a request is there (locally: its socket); absent, it reads it next round. */
  nudge?: () => Promise<void>;
  /** Each step the controller reports, as it comes. */
  onStep: (message: string) => void;
  pollMs: number;
  sleep: (ms: number) => Promise<void>;
  now?: () => Date;
}

/** Who asked, for the controller's events: user@host and the process. */
export function requesterName(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container with an arbitrary uid): the uid is printed below anyway.
  }
  return `${user}@${hostname()} (hapress switchover, pid ${process.pid})`;
}

/**
 * Writes a switchover request and waits for the controller to finish it, printing each step. Resolves
 * with the last step when it is done; throws a HapressError with the controller's reason when it was
 * refused or rolled back, or when no controller took the request up in time (then it is withdrawn).
 */
export async function requestSwitchover(store: SwitchoverStore, options: SwitchoverOptions): Promise<string> {
  const now = options.now ?? (() => new Date());
  const id = randomBytes(8).toString("hex");
  const request = newSwitchoverRequest({
    id,
    to: options.to,
    deadlineMs: options.deadlineMs,
    requestedBy: requesterName(),
    now: now(),
  });
  await store.submit(request);
  try {
    await options.nudge?.();
  } catch (error) {
    await store.withdraw(id);
    throw error;
  }
  let printed = 0;
  let giveUpAt = Date.parse(request.expiresAt);
  // Bounded: untaken, until the request expires; taken, until the deadline plus a grace.
  const maxPolls =
    Math.ceil((SWITCHOVER_REQUEST_TTL_MS + options.deadlineMs + OUTCOME_GRACE_MS) / options.pollMs) + 10;
  try {
    for (let poll = 0; poll < maxPolls; poll++) {
      const { progress } = await store.read();
      if (progress?.id === id) {
        if (printed === 0) giveUpAt = now().getTime() + options.deadlineMs + OUTCOME_GRACE_MS;
        const last = progress.steps.at(-1)?.message ?? "";
        // A failure's last step is the error itself, printed once, by whoever catches it.
        const shown = progress.outcome === "failed" ? progress.steps.length - 1 : progress.steps.length;
        for (const step of progress.steps.slice(printed, shown)) options.onStep(step.message);
        printed = Math.max(printed, shown, 1);
        if (progress.outcome === "done") return last;
        if (progress.outcome === "failed") throw new HapressError(`switchover failed: ${last}`);
      } else if (printed === 0 && now().getTime() > giveUpAt) {
        // Withdrawn only if still untaken: a controller that took it up a moment ago carries on, and
        // the next read shows its progress.
        if (await store.withdraw(id))
          throw new HapressError(
            `no controller took up the switchover request within ${SWITCHOVER_REQUEST_TTL_MS / 1000} s: is the controller running? (request withdrawn)`,
          );
        continue;
      }
      if (printed > 0 && now().getTime() > giveUpAt) break;
      await options.sleep(options.pollMs);
    }
  } catch (error) {
    // Whatever stops the wait (a store that cannot be read, the process told to stop), a request no
    // controller has taken up is not left behind to be acted on later.
    if (printed === 0) await store.withdraw(id).catch(() => false);
    throw error;
  }
  throw new HapressError(
    `the controller took up the switchover but gave no outcome in time; see 'hapress status' and the controller's events`,
  );
}

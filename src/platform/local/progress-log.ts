import type { ProgressEvent } from "../../status/site-status.js";

/** How many events the supervisor keeps for `up` and `scale` to follow. */
const MAX_PROGRESS_EVENTS = 500;

/**
 * The supervisor's log: each line printed (its own log file) and kept, numbered, so a command that
 * waits on the site (`up`, `scale`) can follow what happened since the last event it saw.
 */
export class ProgressLog {
  private readonly events: ProgressEvent[] = [];
  private seq = 0;

  add(pod: string | null, message: string, level: "info" | "error" = "info"): void {
    const event: ProgressEvent = { seq: ++this.seq, time: new Date().toISOString(), level, pod, message };
    this.events.push(event);
    if (this.events.length > MAX_PROGRESS_EVENTS) this.events.shift();
    console.log(`${event.time} ${level} ${pod ? `[${pod}] ` : ""}${message}`);
  }

  since(seq: number): ProgressEvent[] {
    return this.events.filter((e) => e.seq > seq);
  }

  /** The number of the last event. */
  last(): number {
    return this.seq;
  }
}

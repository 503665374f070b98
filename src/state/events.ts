import { appendFile } from "node:fs/promises";
import type { ControllerEvent } from "../controller/types.js";

/** An event as the site's `events.jsonl` keeps it: what happened, and when. */
export interface RecordedEvent extends ControllerEvent {
  time: string;
}

/** Appends one event to the site's event log (one JSON object per line, owner-only). */
export async function appendEvent(
  file: string,
  event: ControllerEvent,
  now = new Date(),
): Promise<RecordedEvent> {
  const recorded: RecordedEvent = { time: now.toISOString(), ...event };
  await appendFile(file, `${JSON.stringify(recorded)}\n`, { mode: 0o600 });
  return recorded;
}

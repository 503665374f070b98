import { HapressError } from "../errors.js";
import { readJsonFile, writeJsonFile } from "./files.js";
import {
  busyReason,
  switchoverProgressSchema,
  switchoverRequestSchema,
  unfinished,
  withStep,
  type SwitchoverOutcome,
  type SwitchoverProgress,
  type SwitchoverRequest,
} from "./switchover-request.js";
import { rm } from "node:fs/promises";

/** Where a switchover request and its progress are kept: the state folder, or the state ConfigMap. */
export interface SwitchoverStore {
  read(): Promise<{ request: SwitchoverRequest | null; progress: SwitchoverProgress | null }>;
  /** Writes a new request; refused (HapressError) while another one is open. */
  submit(request: SwitchoverRequest): Promise<void>;
  /**
   * Removes a request no controller has taken up (its requester gave up waiting); false when a
   * controller took it up meanwhile (then it goes on).
   */
  withdraw(id: string): Promise<boolean>;
  /** Adds a step to the progress of request `id` (the controller only). */
  report(id: string, step: { at: string; message: string }, outcome: SwitchoverOutcome): Promise<void>;
}

/** The request still to be finished, as the controller reads it every round. */
export async function openRequest(store: SwitchoverStore): Promise<SwitchoverRequest | null> {
  const { request, progress } = await store.read();
  return unfinished(request, progress);
}

/** The local target's store: two files of the state folder, each written atomically (mode 0600). */
export class SwitchoverFiles implements SwitchoverStore {
  constructor(
    private readonly requestPath: string,
    private readonly progressPath: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async read(): Promise<{ request: SwitchoverRequest | null; progress: SwitchoverProgress | null }> {
    const [request, progress] = await Promise.all([
      readJsonFile(this.requestPath, switchoverRequestSchema),
      readJsonFile(this.progressPath, switchoverProgressSchema),
    ]);
    return { request, progress };
  }

  async submit(request: SwitchoverRequest): Promise<void> {
    const current = await this.read();
    const busy = busyReason(current.request, current.progress, this.now());
    if (busy) throw new HapressError(`${busy}: wait for it to end`);
    await writeJsonFile(this.requestPath, request);
  }

  async withdraw(id: string): Promise<boolean> {
    const { request, progress } = await this.read();
    if (progress?.id === id) return false;
    if (request?.id === id) await rm(this.requestPath, { force: true });
    return true;
  }

  async report(id: string, step: { at: string; message: string }, outcome: SwitchoverOutcome): Promise<void> {
    const { progress } = await this.read();
    await writeJsonFile(this.progressPath, withStep(progress, id, step, outcome));
  }
}

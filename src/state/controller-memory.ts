import { z } from "zod";
import type { Memory } from "../controller/types.js";
import { readJsonFile, writeJsonFile } from "./files.js";

/**
 * What the controller keeps durably (controller.json, or the ConfigMap's `memory` key): a failover or
 * a switchover in progress, the last recovery, the last switchover request finished.
 */
export type SavedMemory = Pick<Memory, "failover" | "switchover" | "lastRecoveryAt" | "lastSwitchoverId">;

export const savedMemorySchema = z.object({
  // fencePending: absent in what earlier versions saved (they saved only after the fence).
  failover: z
    .object({
      from: z.string(),
      startedAt: z.number(),
      fencePending: z.boolean().optional(),
      lostAt: z.number().optional(),
      awaitingFrom: z.boolean().optional(),
    })
    .nullable(),
  // Absent in what earlier versions saved.
  switchover: z
    .object({
      id: z.string().nullable(),
      from: z.string(),
      to: z.string(),
      requestedBy: z.string(),
      startedAt: z.number(),
      deadlineAt: z.number(),
    })
    .nullable()
    .default(null),
  lastRecoveryAt: z.number().nullable(),
  lastSwitchoverId: z.string().nullable().default(null),
});

/** The part of the memory that is saved. */
export function savedPart(memory: Memory): SavedMemory {
  return {
    failover: memory.failover,
    switchover: memory.switchover,
    lastRecoveryAt: memory.lastRecoveryAt,
    lastSwitchoverId: memory.lastSwitchoverId,
  };
}

export function readSavedMemory(path: string): Promise<SavedMemory | null> {
  return readJsonFile(path, savedMemorySchema);
}

export async function writeSavedMemory(path: string, memory: SavedMemory): Promise<void> {
  await writeJsonFile(path, memory);
}

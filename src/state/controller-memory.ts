import { z } from "zod";
import type { Memory } from "../controller/types.js";
import { readJsonFile, writeJsonFile } from "./files.js";

/** What the controller keeps durably (controller.json): a failover in progress and the last recovery. */
export type SavedMemory = Pick<Memory, "failover" | "lastRecoveryAt">;

export const savedMemorySchema = z.object({
  failover: z.object({ from: z.string(), startedAt: z.number() }).nullable(),
  lastRecoveryAt: z.number().nullable(),
});

export function readSavedMemory(path: string): Promise<SavedMemory | null> {
  return readJsonFile(path, savedMemorySchema);
}

export async function writeSavedMemory(path: string, memory: SavedMemory): Promise<void> {
  await writeJsonFile(path, memory);
}

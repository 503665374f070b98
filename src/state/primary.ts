import { z } from "zod";
import { InputError } from "../errors.js";
import { mysqlOrdinal } from "../topology/topology.js";
import { readJsonFile, writeJsonFile } from "./files.js";

/**
 * The durable record of which database instance is the primary. One record, written atomically;
 * the routing of `mysql-primary` derives from it. `epoch` grows with every change, so a reader
 * can tell an old decision from a new one.
 */
export interface PrimaryRecord {
  primary: string;
  epoch: number;
  changedAt: string;
  reason: string;
}

export const primaryRecordSchema = z.object({
  primary: z.string().regex(/^mysql-\d{1,2}$/, "must name a database instance, e.g. mysql-0"),
  epoch: z.number().int().min(1),
  changedAt: z.string(),
  reason: z.string(),
});

/** Scaling the database tier down never removes the primary (the highest ordinals go first). */
export function refuseRemovingPrimary(record: PrimaryRecord | null, replicas: number): void {
  const ordinal = record ? mysqlOrdinal(record.primary) : null;
  if (record && ordinal !== null && ordinal >= replicas) {
    throw new InputError(
      `database.replicas: ${replicas} would remove ${record.primary}, the current primary; keep at least ${ordinal + 1} instances (or switch over first)`,
    );
  }
}

export async function readPrimaryRecord(path: string): Promise<PrimaryRecord | null> {
  return readJsonFile(path, primaryRecordSchema);
}

/** Records a new primary with the next epoch. */
export async function writePrimaryRecord(
  path: string,
  primary: string,
  reason: string,
  now: Date = new Date(),
): Promise<PrimaryRecord> {
  const previous = await readPrimaryRecord(path);
  const record: PrimaryRecord = {
    primary,
    epoch: (previous?.epoch ?? 0) + 1,
    changedAt: now.toISOString(),
    reason,
  };
  await writeJsonFile(path, record);
  return record;
}

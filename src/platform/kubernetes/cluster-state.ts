import { z } from "zod";
import { savedMemorySchema, type SavedMemory } from "../../state/controller-memory.js";
import { primaryRecordSchema, type PrimaryRecord } from "../../state/primary.js";

/**
 * The site's durable state in the cluster: one ConfigMap, written by the controller (and, for the key
 * of a switchover request, by `hapress switchover`) with resourceVersion preconditions, and mounted read-only into the database pods (their init step reads
 * the primary record and re-clone markers from it without any API access).
 */
export const STATE_CONFIGMAP = "hapress-state";
export const STATE_MOUNT = "/var/run/hapress-state";
export const PRIMARY_KEY = "primary";
export const MEMORY_KEY = "memory";
/** A planned switchover asked for (by `hapress switchover --kubernetes`) and its progress. */
export const SWITCHOVER_REQUEST_KEY = "switchover-request";
export const SWITCHOVER_PROGRESS_KEY = "switchover-progress";

/**
 * What the leading controller last saw of each database instance, published for `hapress status`:
 * the CLI runs outside the cluster and cannot reach the pods' SQL ports, the controller can. Display
 * only, but for a clone's choice of donor (which falls back to the primary): nothing else decides on
 * it, so it is written without preconditions and may lag a few seconds.
 */
export const OBSERVED_CONFIGMAP = "hapress-observed";
/** Where the database pods' init step reads it: which replica may give a clone its data. */
export const OBSERVED_MOUNT = "/var/run/hapress-observed";

/** The key of a pod's re-clone marker: its value is a token; the init step re-clones once per token. */
export function recloneKey(pod: string): string {
  return `reclone.${pod}`;
}

/** Parses a JSON value of the state ConfigMap; a corrupt one is an error naming the key. */
export function parseKey<T>(
  data: Record<string, string>,
  key: string,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
): T | null {
  const text = data[key];
  if (text === undefined || text === "") return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`ConfigMap ${STATE_CONFIGMAP}, key '${key}': not JSON`, { cause: error });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new Error(
      `ConfigMap ${STATE_CONFIGMAP}, key '${key}': ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data;
}

export function parsePrimaryRecord(data: Record<string, string>): PrimaryRecord | null {
  return parseKey(data, PRIMARY_KEY, primaryRecordSchema);
}

export function parseSavedMemory(data: Record<string, string>): SavedMemory | null {
  return parseKey(data, MEMORY_KEY, savedMemorySchema);
}

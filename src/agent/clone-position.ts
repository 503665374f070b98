import { existsSync } from "node:fs";
import { readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import { connectSql, type Credentials, type Endpoint } from "../mysql/client.js";
import { CLONE_INFO_FILE } from "./clone.js";

const cloneInfoSchema = z.object({ gtid: z.string().regex(/^[0-9,-]*$/, "a GTID position like 0-1-42") });

/** The GTID position a clone was taken at, or null when the data folder is not a fresh clone. */
export async function readCloneGtid(dataDir: string): Promise<string | null> {
  const path = join(dataDir, CLONE_INFO_FILE);
  if (!existsSync(path)) return null;
  const parsed = cloneInfoSchema.safeParse(JSON.parse(await readFile(path, "utf8")));
  if (!parsed.success) throw new Error(`${path}: no valid 'gtid' field`);
  return parsed.data.gtid;
}

export interface ApplyClonePositionOptions {
  dataDir: string;
  /**
   * The instance's admin port on the pod's own loopback, with the controller's admin account: it may
   * write while the server is read-only (root may not: READ_ONLY ADMIN is taken from it).
   */
  endpoint: Endpoint;
  credentials: Credentials;
  log: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
  /** How long to wait for the server to start answering on its socket. */
  deadlineMs: number;
}

/**
 * In a database pod, before the agent serves or reports ready: a fresh clone learns where it stands
 * (gtid_slave_pos = the backup's position), so the controller's CHANGE MASTER ... current_pos resumes
 * exactly after what the backup holds. The marker goes once applied; restarts do nothing.
 */
export async function applyClonePosition(options: ApplyClonePositionOptions): Promise<void> {
  const gtid = await readCloneGtid(options.dataDir);
  if (gtid === null) return;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      const session = await connectSql(options.endpoint, options.credentials, {
        connectTimeoutMs: 2000,
        queryTimeoutMs: 10_000,
      });
      try {
        await session.query("STOP SLAVE");
        await session.query("RESET SLAVE ALL");
        await session.query("SET GLOBAL gtid_slave_pos = ?", [gtid]);
      } finally {
        await session.close();
      }
      await unlink(join(options.dataDir, CLONE_INFO_FILE));
      options.log(`fresh clone: replication will resume after GTID '${gtid}'`);
      return;
    } catch (error) {
      if (Date.now() - started > options.deadlineMs) {
        throw new Error(
          `the server never answered on port ${options.endpoint.port} to take the clone's position`,
          {
            cause: error,
          },
        );
      }
      if (attempt % 30 === 1) options.log(`waiting for the server: ${errorMessage(error)}`);
      await options.sleep(1000);
    }
  }
}

import { randomBytes } from "node:crypto";
import { readdir, rename, rm } from "node:fs/promises";
import { userInfo } from "node:os";
import { basename, dirname, join } from "node:path";
import { HapressError } from "../errors.js";
import { PRIVATE_FILES_ENV, renderBootstrapSql, renderRestoredAccountsSql } from "../mysql/config.js";
import { CLONE_INFO_FILE } from "./clone.js";
import type { Secrets } from "../state/secrets.js";
import { runProgramChecked } from "../util/process.js";

/** Removes leftovers of interrupted initialisations or clones next to a data folder. */
export async function removeStaleWorkDirs(dataDir: string): Promise<void> {
  const parent = dirname(dataDir);
  const prefix = `${basename(dataDir)}.`;
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.startsWith(prefix) && /\.(init|clone)-[0-9a-f]+$/.test(entry)) {
      await rm(join(parent, entry), { recursive: true, force: true });
    }
  }
}

/**
 * Creates a new primary's data folder with the site's users. Everything happens in a temporary
 * folder that is renamed into place only when complete, so an interrupted run leaves nothing that
 * a later start could mistake for good data.
 */
export async function initializePrimaryDataDir(
  dataDir: string,
  secrets: Secrets,
  options: { runAs: string | null; signal?: AbortSignal },
): Promise<void> {
  const abortable = {
    signal: options.signal,
    killSignal: "SIGKILL" as const,
    env: { ...process.env, ...PRIVATE_FILES_ENV },
  };
  await removeStaleWorkDirs(dataDir);
  const workDir = `${dataDir}.init-${randomBytes(4).toString("hex")}`;
  // Started by root: the files belong to the server's account, as mariadbd will run as it.
  const userArgs = options.runAs ? [`--user=${options.runAs}`] : [];
  // Who may log in through the socket without a password besides root: the one who runs the site.
  const socketUser = options.runAs ? "root" : userInfo().username;
  try {
    await runProgramChecked(
      "mariadb-install-db",
      [
        "--no-defaults",
        `--datadir=${workDir}`,
        "--auth-root-authentication-method=socket",
        `--auth-root-socket-user=${socketUser}`,
        "--skip-test-db",
        ...userArgs,
      ],
      abortable,
    );
    await runProgramChecked(
      "mariadbd",
      ["--no-defaults", `--datadir=${workDir}`, ...userArgs, "--bootstrap", "--log-bin=0"],
      { input: renderBootstrapSql(secrets, socketUser), ...abortable },
    );
    await rename(workDir, dataDir);
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw new HapressError(`initialising the database in ${dataDir} failed`, { cause: error });
  }
}

/**
 * Creates a new site's first primary from a backup's prepared database: a copy in a temporary
 * folder, the site's accounts made anew with this site's passwords (the backup's grant tables hold
 * the old site's), the clone record removed (this instance is a primary, not a replica to point at
 * a donor), the archived transactions replayed when a point in time is asked for, then renamed
 * into place. An interruption leaves nothing a later start could trust.
 */
export async function restorePrimaryDataDir(
  backupDatabaseDir: string,
  dataDir: string,
  secrets: Secrets,
  options: { runAs: string | null; replay?: (workDir: string) => Promise<void> },
): Promise<void> {
  await removeStaleWorkDirs(dataDir);
  const workDir = `${dataDir}.init-${randomBytes(4).toString("hex")}`;
  const userArgs = options.runAs ? [`--user=${options.runAs}`] : [];
  try {
    await runProgramChecked("cp", ["-a", "--no-dereference", backupDatabaseDir, workDir]);
    await rm(join(workDir, CLONE_INFO_FILE), { force: true });
    if (options.runAs) await runProgramChecked("chown", ["-R", `${options.runAs}:`, workDir]);
    await runProgramChecked(
      "mariadbd",
      ["--no-defaults", `--datadir=${workDir}`, ...userArgs, "--bootstrap", "--log-bin=0"],
      {
        input: renderRestoredAccountsSql(secrets),
        killSignal: "SIGKILL",
        env: { ...process.env, ...PRIVATE_FILES_ENV },
      },
    );
    // A point-in-time restore: the archived transactions after the backup, up to the target.
    if (options.replay) await options.replay(workDir);
    await rename(workDir, dataDir);
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw new HapressError(`restoring the database into ${dataDir} failed`, { cause: error });
  }
}

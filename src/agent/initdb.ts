import { randomBytes } from "node:crypto";
import { readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { HapressError } from "../errors.js";
import { renderBootstrapSql } from "../mysql/config.js";
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
  options: { runAsRoot: boolean; signal?: AbortSignal },
): Promise<void> {
  const abortable = { signal: options.signal, killSignal: "SIGKILL" as const };
  await removeStaleWorkDirs(dataDir);
  const workDir = `${dataDir}.init-${randomBytes(4).toString("hex")}`;
  const userArgs = options.runAsRoot ? ["--user=root"] : [];
  try {
    await runProgramChecked(
      "mariadb-install-db",
      [
        "--no-defaults",
        `--datadir=${workDir}`,
        "--auth-root-authentication-method=socket",
        "--skip-test-db",
        ...userArgs,
      ],
      abortable,
    );
    await runProgramChecked(
      "mariadbd",
      ["--no-defaults", `--datadir=${workDir}`, ...userArgs, "--bootstrap", "--log-bin=0"],
      { input: renderBootstrapSql(secrets), ...abortable },
    );
    await rename(workDir, dataDir);
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw new HapressError(`initialising the database in ${dataDir} failed`, { cause: error });
  }
}

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { restorePrimaryDataDir } from "../agent/initdb.js";
import { HapressError, InputError } from "../errors.js";
import { currentLayout, ensureServiceRoot, giveTo } from "../platform/local/layout.js";
import { ensureSiteRecord } from "../platform/local/site-record.js";
import { readJsonFile, statePaths, writeJsonFile } from "../state/files.js";
import { writePrimaryRecord } from "../state/primary.js";
import { loadOrCreateSecrets, loadSecrets } from "../state/secrets.js";
import { specSchema, type Spec } from "../spec/schema.js";
import { runProgramChecked } from "../util/process.js";
import {
  compareFiles,
  describeTree,
  MANIFEST_FILE,
  manifestSchema,
  type BackupManifest,
} from "./manifest.js";

/** Reads a backup's manifest; a missing or damaged one is a clear error naming the file. */
export async function readManifest(backupDir: string): Promise<BackupManifest> {
  const path = join(backupDir, MANIFEST_FILE);
  if (!existsSync(path))
    throw new InputError(
      `${backupDir}: no ${MANIFEST_FILE}, so not a complete hapress backup (see 'hapress backups' for the ones there are)`,
    );
  const manifest = await readJsonFile(path, manifestSchema);
  if (!manifest) throw new InputError(`${path}: unreadable`);
  return manifest;
}

/**
 * Proves a backup is whole: every file the manifest lists is there with its size and SHA-256, and
 * nothing else. The error names the files that differ; nothing is changed either way.
 */
export async function verifyBackup(backupDir: string): Promise<BackupManifest> {
  const manifest = await readManifest(backupDir);
  const found = await describeTree(backupDir, new Set([MANIFEST_FILE]));
  const problems = compareFiles(manifest.files, found);
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join("; ");
    throw new InputError(
      `${backupDir}: the backup is damaged, ${problems.length} file(s) differ from its manifest: ${shown}${problems.length > 5 ? "; …" : ""}. Nothing was restored; use another backup`,
    );
  }
  return manifest;
}

/** A state folder "holds a site" when it has any of a site's records or data. */
export function holdsSite(stateDir: string): boolean {
  const paths = statePaths(stateDir);
  return [paths.site, paths.spec, paths.primary, paths.pods].some((path) => existsSync(path));
}

export interface PrepareRestoreOptions {
  backupDir: string;
  /** The new site's state folder: empty or missing. */
  intoDir: string;
  /** The new site's HTTP port (the backed-up site's may be in use by that very site). */
  httpPort?: number;
  log: (line: string) => void;
  /** Checks the machine for the new site (programs, its HTTP port) before anything is written. */
  preflight: (stateDir: string, spec: Spec) => Promise<void>;
}

export interface PreparedRestore {
  spec: Spec;
  manifest: BackupManifest;
  /** Whether the backup's own credentials were reused (it was taken with --with-secrets). */
  reusedSecrets: boolean;
}

/**
 * Lays out a new site from a backup, ready for `up`: its state folder with the backup's spec, its
 * credentials (the backup's when it holds them, otherwise new ones, set on the restored accounts),
 * mysql-0's data from the backup recorded as the primary (the others are cloned from it as usual),
 * and `wp-content`. Checks first (a damaged backup, a folder holding a site), so a refusal changes
 * nothing; a failure half-way removes what it made.
 */
export async function prepareRestore(options: PrepareRestoreOptions): Promise<PreparedRestore> {
  const backupDir = resolve(options.backupDir);
  const intoDir = resolve(options.intoDir);
  if (holdsSite(intoDir))
    throw new InputError(
      `--into ${options.intoDir}: the folder already holds a site; restore into a new folder (e.g. --into ${options.intoDir}-restored)`,
    );
  const manifest = await verifyBackup(backupDir);
  const backedUpSpec = specSchema.parse(JSON.parse(await readFile(join(backupDir, "spec.json"), "utf8")));
  const spec: Spec = {
    ...backedUpSpec,
    local: { ...backedUpSpec.local, httpPort: options.httpPort ?? backedUpSpec.local.httpPort },
  };
  await options.preflight(intoDir, spec);
  const createdFolder = !existsSync(intoDir);
  if (!createdFolder && (await readdir(intoDir)).length > 0)
    throw new InputError(
      `--into ${options.intoDir}: the folder is not empty; restore into a new or empty folder`,
    );
  await mkdir(intoDir, { recursive: true, mode: 0o700 });
  const paths = statePaths(intoDir);
  const layout = currentLayout(intoDir);
  try {
    await ensureSiteRecord(paths.site, spec.name, intoDir);
    await writeJsonFile(paths.spec, spec);
    const reusedSecrets = manifest.withSecrets;
    if (reusedSecrets) await writeJsonFile(paths.secrets, await loadSecrets(join(backupDir, "secrets.json")));
    const secrets = await loadOrCreateSecrets(paths.secrets);

    options.log(
      `restoring the database (GTID ${manifest.gtid || "none"}) as mysql-0, the new site's primary`,
    );
    await ensureServiceRoot(layout);
    const podDir = layout.podServiceDir("mysql-0");
    await mkdir(podDir, { recursive: true, mode: 0o700 });
    if (layout.accounts)
      await giveTo(podDir, layout.accounts.mysql, { recursive: true, groupReadable: false });
    await restorePrimaryDataDir(join(backupDir, "database"), layout.mysqlDataDir("mysql-0"), secrets, {
      runAs: layout.accounts?.mysql.name ?? null,
    });
    await writePrimaryRecord(paths.primary, "mysql-0", `restored from backup ${manifest.createdAt}`);

    if (manifest.wpContent && existsSync(join(backupDir, "wp-content"))) {
      options.log(`restoring wp-content (${manifest.wpContent.files} files)`);
      await mkdir(layout.wordpressRoot, { recursive: true, mode: 0o700 });
      const content = join(layout.wordpressRoot, "content");
      const work = `${content}.tmp-${randomBytes(4).toString("hex")}`;
      await runProgramChecked("cp", ["-a", "--no-dereference", join(backupDir, "wp-content"), work]);
      // The content belongs to the web workers, as a freshly seeded one does (see wordpress/core.ts).
      if (layout.accounts) await giveTo(work, layout.accounts.web, { recursive: true, groupReadable: true });
      else await runProgramChecked("chmod", ["-R", "go-rwx", work]);
      await rename(work, content);
    }
    // The restored WordPress is installed, with the backed-up site's users and passwords: `up` must
    // not show this site's generated admin password as if it were the login.
    await writeJsonFile(paths.wordpressInstall, {
      installedAt: manifest.createdAt,
      adminUser: spec.site.adminUser,
      passwordShown: true,
    });
    return { spec, manifest, reusedSecrets };
  } catch (error) {
    if (layout.serviceRoot !== intoDir) await rm(layout.serviceRoot, { recursive: true, force: true });
    if (createdFolder) await rm(intoDir, { recursive: true, force: true });
    else
      for (const entry of await readdir(intoDir))
        await rm(join(intoDir, entry), { recursive: true, force: true });
    throw new HapressError(`restoring ${backupDir} into ${intoDir} failed; nothing was kept`, {
      cause: error,
    });
  }
}

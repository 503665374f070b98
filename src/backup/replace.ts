import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { errorMessage, HapressError } from "../errors.js";
import { currentLayout } from "../platform/local/layout.js";
import { down, preflight, up, type Reporter, type SelfCommand } from "../platform/local/site-control.js";
import type { SiteStatus } from "../status/site-status.js";
import { readSiteRecord } from "../platform/local/site-record.js";
import { specSchema, type Spec } from "../spec/schema.js";
import { readJsonFile, statePaths, writeJsonFile } from "../state/files.js";
import { backupRoot } from "./list.js";
import type { ArchiveCompleteness, RecoveryTarget } from "./replay-plan.js";
import { assignArchiveFolder, prepareRestore, type PreparedRestore } from "./restore.js";
import { backupName } from "./take.js";

export interface ReplaceOptions {
  backupDir: string;
  /** The state folder of the site being replaced. */
  stateDir: string;
  httpPort?: number;
  target?: RecoveryTarget;
  archiveCompleteness?: () => Promise<ArchiveCompleteness | null>;
  self: SelfCommand;
  log: Reporter;
  timeoutMs: number;
  now?: () => Date;
}

export interface ReplacedSite {
  status: SiteStatus;
  prepared: PreparedRestore;
  /** Where the replaced site's state folder now is (kept; the user removes it). */
  aside: string;
}

/**
 * Moves a site's state folder, and its services' folder when it lives apart (started by root: the
 * folder is named after the state folder's path, see layout.ts).
 */
async function moveSite(from: string, to: string): Promise<void> {
  const fromRoot = currentLayout(from).serviceRoot;
  const toRoot = currentLayout(to).serviceRoot;
  await rename(from, to);
  if (fromRoot !== from && existsSync(fromRoot)) await rename(fromRoot, toRoot);
}

/** A backup folder inside the state folder (relative backup.path): it belongs to the site and moves with it. */
function insideState(stateDir: string, spec: Spec): string | null {
  const root = backupRoot(stateDir, spec);
  const inside = relative(stateDir, root);
  return inside && !inside.startsWith("..") && !inside.startsWith("/") ? inside : null;
}

/**
 * `restore --replace`: the new site is prepared beside the running one (checked and replayed first,
 * so a refusal changes nothing), then the running site is stopped and its state folder set aside, the
 * restored one takes its folder, its addresses and its backups, and starts. If it does not become
 * ready, it is stopped and set aside in turn, and the replaced site is put back and started again.
 */
export async function restoreReplacing(options: ReplaceOptions): Promise<ReplacedSite> {
  const into = resolve(options.stateDir);
  const paths = statePaths(into);
  const oldSpec = await readJsonFile(paths.spec, specSchema);
  const oldRecord = await readSiteRecord(paths.site);
  if (!oldSpec || !oldRecord) throw new HapressError(`--into ${options.stateDir}: no site to replace there`);
  const stamp = backupName((options.now ?? (() => new Date()))());
  const staging = `${into}.restoring-${randomBytes(4).toString("hex")}`;
  const prepared = await prepareRestore({
    backupDir: options.backupDir,
    intoDir: staging,
    // It takes the replaced site's place: its port too, unless told otherwise.
    httpPort: options.httpPort ?? oldSpec.local.httpPort,
    target: options.target,
    archiveCompleteness: options.archiveCompleteness,
    log: options.log,
    // Not the HTTP port: the site being replaced holds it until it stops.
    preflight: (dir, spec) => preflight(dir, spec),
    assignArchive: false,
  });
  options.log(`stopping the site in ${into}; its data is kept aside`);
  await down(into, { volumes: false }, options.log);
  const aside = `${into}.replaced-${stamp}`;
  await moveSite(into, aside);
  await moveSite(staging, into);
  const record = await readSiteRecord(paths.site);
  // The same addresses as the site it replaces: its clients keep working.
  await writeJsonFile(paths.site, { ...record, subnet: oldRecord.subnet });
  const oldBackups = insideState(aside, oldSpec);
  const newBackups = insideState(into, prepared.spec);
  const movedBackups =
    oldBackups !== null && newBackups !== null && existsSync(resolve(aside, oldBackups))
      ? { from: resolve(aside, oldBackups), to: resolve(into, newBackups) }
      : null;
  if (movedBackups) {
    await mkdir(dirname(movedBackups.to), { recursive: true, mode: 0o700 });
    await rename(movedBackups.from, movedBackups.to);
  }
  await assignArchiveFolder(into, prepared.spec);
  try {
    const status = await up(
      prepared.spec,
      `${options.backupDir}/spec.json`,
      into,
      options.self,
      options.log,
      options.timeoutMs,
    );
    return { status, prepared, aside };
  } catch (error) {
    options.log(
      `the restored site did not become ready (${errorMessage(error)}): putting the replaced site back`,
    );
    await down(into, { volumes: false }, options.log).catch(() => undefined);
    if (movedBackups) await rename(movedBackups.to, movedBackups.from);
    const failed = `${into}.failed-restore-${stamp}`;
    await moveSite(into, failed);
    await moveSite(aside, into);
    await up(oldSpec, paths.spec, into, options.self, options.log, options.timeoutMs);
    throw new HapressError(
      `the restore did not become ready; the replaced site is back in ${into} and running, the failed attempt is in ${failed}`,
      { cause: error },
    );
  }
}

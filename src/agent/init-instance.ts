import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { errorMessage, HapressError } from "../errors.js";
import { serverId } from "../mysql/config.js";
import { parsePrimaryRecord, PRIMARY_KEY, recloneKey } from "../platform/kubernetes/cluster-state.js";
import { parseObserved, OBSERVED_KEY, type ObservedState } from "../platform/kubernetes/observed-state.js";
import { chooseDonor } from "../topology/clone-donor.js";
import { cloneFromDonor, type CloneInfo, type CloneOptions } from "./clone.js";

export interface InitInstanceOptions {
  /** The pod's host name, e.g. mysql-2: the ordinal comes from it, as in the tutorial. */
  hostname: string;
  /** Where the instance's data lives; it must not exist yet for a clone (it is renamed into place). */
  dataDir: string;
  confDir: string;
  configMapDir: string;
  /** The mounted state ConfigMap: the primary record and re-clone markers (written by the controller). */
  stateDir: string;
  /** The peers' DNS domain: peer N is mysql-N.<peerDomain>. */
  peerDomain: string;
  donorPort: number;
  /** Clone from this host instead of the recorded primary's stable name (a manual restore, tests). */
  donorHost?: string;
  token: string;
  log: (line: string) => void;
  /**
   * The mounted hapress-observed ConfigMap: the leading controller's last view of each instance. A
   * replica streaming close behind the primary is cloned first (see chooseDonor), the primary if that
   * fails. Absent: the primary.
   */
  observedDir?: string;
  now?: () => Date;
  /** The clone itself (tests give a fake). */
  clone?: (options: CloneOptions) => Promise<CloneInfo>;
}

/** An observation older than this names no donor: the controller that wrote it may be gone. */
export const OBSERVED_MAX_AGE_MS = 60_000;

/**
 * The instances to clone from, in order (pure): a replica the leader saw streaming close behind the
 * primary (chooseDonor: a backup of the primary holds its commits at its end), then the primary; the
 * primary alone when nothing recent was observed. Before a primary is recorded, mysql-0 (it
 * bootstrapped the site).
 */
export function donorOrder(
  observed: ObservedState | null,
  primary: string | null,
  self: string,
  now: Date,
): string[] {
  const fallback = primary ?? "mysql-0";
  if (!observed || !(now.getTime() - Date.parse(observed.observedAt) <= OBSERVED_MAX_AGE_MS))
    return [fallback];
  const candidates = observed.instances.map((i) => ({
    name: i.name,
    ready: i.reachable,
    hasData: i.reachable,
    lagSeconds: i.lagSeconds,
  }));
  const choice = chooseDonor(candidates, primary, self);
  return choice !== null && choice !== fallback && choice !== self ? [choice, fallback] : [fallback];
}

async function readObserved(dir: string | undefined): Promise<ObservedState | null> {
  if (!dir) return null;
  const text = await readOptional(join(dir, OBSERVED_KEY));
  return text === null ? null : parseObserved({ [OBSERVED_KEY]: text });
}

/** Next to the data folder: the re-clone token last honoured, so one marker causes one re-clone. */
export const RECLONE_DONE_FILE = "hapress-reclone-done";

async function readOptional(path: string): Promise<string | null> {
  return existsSync(path) ? (await readFile(path, "utf8")).trim() : null;
}

/** The recorded primary, from the mounted state; null on an empty site (nothing recorded yet). */
async function recordedPrimary(stateDir: string): Promise<string | null> {
  const text = await readOptional(join(stateDir, PRIMARY_KEY));
  if (!text) return null;
  return parsePrimaryRecord({ [PRIMARY_KEY]: text })?.primary ?? null;
}

/** The ordinal of a StatefulSet pod from its host name. */
export function ordinalFromHostname(hostname: string): number {
  const match = /-(\d+)$/.exec(hostname);
  if (!match) throw new HapressError(`host name '${hostname}' does not end in an ordinal (like mysql-2)`);
  return Number(match[1]);
}

/**
 * The in-cluster init step of a database pod (the tutorial's init-mysql and clone-mysql): writes
 * server-id from the ordinal and the shared configuration; discards the data when the controller left
 * a new re-clone marker; with no data, clones from the recorded primary's agent. Only ordinal 0 of an
 * empty site (no primary ever recorded) bootstraps: a lost volume never starts a second cluster.
 */
export async function initInstance(
  options: InitInstanceOptions,
): Promise<"existing" | "cloned" | "bootstrap"> {
  const ordinal = ordinalFromHostname(options.hostname);
  await mkdir(options.confDir, { recursive: true });
  await writeFile(
    join(options.confDir, "server-id.cnf"),
    `[mysqld]\nserver-id=${serverId(ordinal)}\nreport-host=${options.hostname}\n`,
  );
  await installConfig(options, "common.cnf");
  const recloneToken = await readOptional(join(options.stateDir, recloneKey(options.hostname)));
  const doneFile = join(dirname(options.dataDir), RECLONE_DONE_FILE);
  const recloneDue = recloneToken !== null && recloneToken !== (await readOptional(doneFile));
  if (recloneDue && existsSync(options.dataDir)) {
    // Renamed first, then removed: a crash in between leaves no folder that looks like good data.
    const discarded = `${options.dataDir}.discarded-${Date.now()}`;
    await rename(options.dataDir, discarded);
    await rm(discarded, { recursive: true, force: true });
    options.log(`re-clone requested by the controller (marker ${recloneToken}): data discarded`);
  }
  if (existsSync(join(options.dataDir, "mysql"))) {
    await installConfig(options, "replica.cnf");
    options.log(`data present: server-id ${serverId(ordinal)}, no clone needed`);
    return "existing";
  }
  const primary = await recordedPrimary(options.stateDir);
  if (primary === null && ordinal === 0) {
    await installConfig(options, "primary.cnf");
    options.log("an empty site: ordinal 0 bootstraps it");
    return "bootstrap";
  }
  if (primary === options.hostname) {
    throw new HapressError(
      `${options.hostname} is the recorded primary but has no data: waiting for the controller to fail over to a replica, then this pod clones from it`,
    );
  }
  const donors = options.donorHost
    ? [options.donorHost]
    : donorOrder(
        await readObserved(options.observedDir),
        primary,
        options.hostname,
        (options.now ?? (() => new Date()))(),
      ).map((name) => `${name}.${options.peerDomain}`);
  const info = await cloneFromFirst(options, donors);
  if (recloneToken !== null) await writeFile(doneFile, `${recloneToken}\n`);
  await installConfig(options, "replica.cnf");
  options.log(`cloned ${(info.bytes / 1e6).toFixed(1)} MB from ${info.donor} at GTID '${info.gtid}'`);
  return "cloned";
}

/** Clones from the first donor that gives its data; each failure is logged, the last one thrown. */
async function cloneFromFirst(options: InitInstanceOptions, donors: string[]): Promise<CloneInfo> {
  const clone = options.clone ?? cloneFromDonor;
  for (const [index, donor] of donors.entries()) {
    try {
      return await clone({
        donor: { name: donor, address: donor, port: options.donorPort },
        token: options.token,
        dataDir: options.dataDir,
        onProgress: () => undefined,
      });
    } catch (error) {
      const next = donors[index + 1];
      if (next === undefined) throw error;
      options.log(`${errorMessage(error)}: cloning from ${next} instead`);
    }
  }
  throw new HapressError("no donor to clone from");
}

/**
 * Copies one configuration file from the ConfigMap into the server's configuration folder, replacing
 * what an earlier run left: the ConfigMap's files are read-only, and a copy keeping that mode could not
 * be replaced when the init step runs again in the same pod (the folder outlives a restart).
 */
async function installConfig(options: InitInstanceOptions, name: string): Promise<void> {
  const target = join(options.confDir, name);
  await rm(target, { force: true });
  await writeFile(target, await readFile(join(options.configMapDir, name)), { mode: 0o644 });
}

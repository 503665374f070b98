import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HapressError } from "../errors.js";
import { serverId } from "../mysql/config.js";
import { cloneFromDonor } from "./clone.js";

export interface InitInstanceOptions {
  /** The pod's host name, e.g. mysql-2: the ordinal comes from it, as in the tutorial. */
  hostname: string;
  /** Where the instance's data lives; it must not exist yet for a clone (it is renamed into place). */
  dataDir: string;
  confDir: string;
  configMapDir: string;
  donor: { host: string; port: number };
  token: string;
  log: (line: string) => void;
}

function describeCauses(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    parts.push(current.message, (current as NodeJS.ErrnoException).code ?? "");
    current = current.cause;
  }
  return parts.join(" ");
}

/** The ordinal of a StatefulSet pod from its host name. */
export function ordinalFromHostname(hostname: string): number {
  const match = /-(\d+)$/.exec(hostname);
  if (!match) throw new HapressError(`host name '${hostname}' does not end in an ordinal (like mysql-2)`);
  return Number(match[1]);
}

/**
 * The in-cluster init step of a database pod (the tutorial's init-mysql and clone-mysql): writes
 * server-id from the ordinal and the shared configuration, then, with no data yet, clones from the
 * current primary's agent. Only ordinal 0 with no reachable donor is left to bootstrap a new cluster.
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
  await copyFile(join(options.configMapDir, "common.cnf"), join(options.confDir, "common.cnf"));
  if (existsSync(join(options.dataDir, "mysql"))) {
    await copyFile(join(options.configMapDir, "replica.cnf"), join(options.confDir, "replica.cnf"));
    options.log(`data present: server-id ${serverId(ordinal)}, no clone needed`);
    return "existing";
  }
  try {
    const info = await cloneFromDonor({
      donor: { name: options.donor.host, address: options.donor.host, port: options.donor.port },
      token: options.token,
      dataDir: options.dataDir,
      onProgress: () => undefined,
    });
    await copyFile(join(options.configMapDir, "replica.cnf"), join(options.confDir, "replica.cnf"));
    options.log(
      `cloned ${(info.bytes / 1e6).toFixed(1)} MB from ${options.donor.host} at GTID '${info.gtid}'`,
    );
    return "cloned";
  } catch (error) {
    const unreachable = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH/.test(describeCauses(error));
    if (ordinal === 0 && unreachable) {
      await copyFile(join(options.configMapDir, "primary.cnf"), join(options.confDir, "primary.cnf"));
      options.log("no primary to clone from: ordinal 0 bootstraps a new cluster");
      return "bootstrap";
    }
    throw error;
  }
}

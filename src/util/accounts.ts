// Operating-system accounts and file ownership: what a process started by root hands to the
// unprivileged accounts its services run as.
import { readFileSync } from "node:fs";
import { chown } from "node:fs/promises";
import { HapressError } from "../errors.js";
import { runProgramChecked } from "./process.js";

/** An operating-system account a service runs as. */
export interface ServiceAccount {
  name: string;
  uid: number;
  gid: number;
}

/** Reads an account from /etc/passwd (the Debian packages create `mysql` and `www-data`). */
export function lookupAccount(name: string, passwd = "/etc/passwd", hint = ""): ServiceAccount {
  const line = readFileSync(passwd, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  const fields = line?.split(":") ?? [];
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (!line || !Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new HapressError(`no system account '${name}' to run the site's services as${hint}`);
  }
  return { name, uid, gid };
}

/**
 * Makes a folder (and, with `recursive`, everything in it) belong to `owner`, with no access for
 * others; `groupReadable` lets the owner's group read and enter (the web servers' workers).
 */
export async function giveTo(
  path: string,
  owner: { uid: number; gid: number },
  options: { recursive: boolean; groupReadable: boolean },
): Promise<void> {
  const modes = options.groupReadable ? "u=rwX,g=rX,o=" : "u=rwX,go=";
  if (options.recursive) {
    await runProgramChecked("chown", ["-R", "--no-dereference", `${owner.uid}:${owner.gid}`, path]);
    await runProgramChecked("chmod", ["-R", modes, path]);
  } else {
    await chown(path, owner.uid, owner.gid);
    await runProgramChecked("chmod", [modes, path]);
  }
}

import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ZodType, ZodTypeDef } from "zod";
import { InputError } from "../errors.js";

/** Writes a file atomically: a temporary file is written, flushed and renamed over the target. */
export async function writeFileAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const handle = await open(temporary, "w", mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Reads a state file and parses it with its schema (data from disk is input, like the spec); null
 * when it does not exist. A file that is not JSON or does not fit is a clear error naming it, never
 * a value the program trusts (a spec.json with 1e8 replicas once made `status` use 2.6 GB).
 */
export async function readJsonFile<T>(
  path: string,
  schema: ZodType<T, ZodTypeDef, unknown>,
): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${path}: not valid JSON (a damaged state file); restore it or remove the site`, {
      cause: error,
    });
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.length ? `field '${issue.path.join(".")}'` : "the document";
  throw new InputError(
    `${path}: ${field}: ${issue?.message ?? "does not fit"} (a damaged state file); restore it or remove the site`,
  );
}

/** Writes JSON atomically with mode 0600. */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Every path inside a site's state folder, in one place. */
export function statePaths(stateDir: string) {
  return {
    root: stateDir,
    site: join(stateDir, "site.json"),
    spec: join(stateDir, "spec.json"),
    secrets: join(stateDir, "secrets.json"),
    primary: join(stateDir, "primary.json"),
    controller: join(stateDir, "controller.json"),
    controllerSocket: join(stateDir, "controller.sock"),
    /** A planned switchover asked for (by `hapress switchover`) and its progress (by the controller). */
    switchoverRequest: join(stateDir, "switchover-request.json"),
    switchoverProgress: join(stateDir, "switchover-progress.json"),
    events: join(stateDir, "events.jsonl"),
    socket: join(stateDir, "supervisor.sock"),
    supervisorPid: join(stateDir, "supervisor.pid"),
    pids: join(stateDir, "pids.json"),
    fenced: join(stateDir, "fenced.json"),
    logs: join(stateDir, "logs"),
    pods: join(stateDir, "pods"),
    wordpressRoot: join(stateDir, "wordpress"),
    /** Written once the site is installed; remembers whether `up` showed the admin password. */
    wordpressInstall: join(stateDir, "wordpress", "installed.json"),
    haproxyConfig: join(stateDir, "haproxy", "haproxy.cfg"),
    haproxySocket: join(stateDir, "haproxy", "admin.sock"),
    podDir: (pod: string) => join(stateDir, "pods", pod),
    podLog: (pod: string) => join(stateDir, "logs", `${pod}.log`),
  };
}

export type StatePaths = ReturnType<typeof statePaths>;

import { runProgram } from "../util/process.js";
import { withSystemDirs } from "../util/system-path.js";

export { HAPRESS_VERSION } from "../version.js";

/** The MariaDB server's version as `mariadbd --version` prints it (e.g. 10.11.14), or "unknown". */
export async function mariadbVersion(): Promise<string> {
  const result = await runProgram("mariadbd", ["--version"], {
    env: { ...process.env, PATH: withSystemDirs(process.env.PATH) },
  }).catch(() => null);
  return /Ver\s+(\S+)/.exec(result?.stdout ?? "")?.[1]?.replace(/-MariaDB.*$/, "") ?? "unknown";
}

import { readdirSync } from "node:fs";
import { delimiter } from "node:path";

/**
 * Where Debian installs server programs. An ordinary user's login PATH lacks the sbin folders, where
 * `mariadbd`, `haproxy`, `nginx` and `php-fpm8.2` live: hapress looks there whatever the PATH says.
 */
export const SYSTEM_PROGRAM_DIRS = [
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
];

/** The PATH with every system program folder it lacks appended (the user's own entries keep priority). */
export function withSystemDirs(path: string | undefined): string {
  const entries = (path ?? "").split(delimiter).filter(Boolean);
  for (const dir of SYSTEM_PROGRAM_DIRS) if (!entries.includes(dir)) entries.push(dir);
  return entries.join(delimiter);
}

/** The newest versioned php-fpm among file names (php-fpm8.2, php-fpm8.3), or null. */
export function newestPhpFpm(names: string[]): string | null {
  const versions = names
    .map((name) => /^php-fpm(\d+)\.(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]) || Number(b[2]) - Number(a[2]));
  return versions[0]?.[0] ?? null;
}

/** The php-fpm program of this machine (Debian names it by version), or the Debian 12 name. */
export function phpFpmProgram(): string {
  for (const dir of SYSTEM_PROGRAM_DIRS) {
    try {
      const found = newestPhpFpm(readdirSync(dir));
      if (found) return found;
    } catch {
      // A folder this machine does not have.
    }
  }
  return "php-fpm8.2";
}

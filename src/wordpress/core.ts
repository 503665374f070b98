import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, lstat, mkdir, open, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HapressError } from "../errors.js";
import { runProgramChecked } from "../util/process.js";
import { giveTo, type ServiceAccount } from "../util/accounts.js";
import { ALIVE_PHP, HEALTH_PHP, WP_CONFIG_PHP } from "./config.js";
import { CACHE_REFRESH_MU_PLUGIN } from "./page-cache.js";
import { DB_DROPIN_FILE, DB_DROPIN_MARK, DB_DROPIN_PHP } from "./db-dropin.js";

/** Where Debian's wordpress package puts WordPress core. */
export const DEBIAN_WORDPRESS = "/usr/share/wordpress";

export interface WordpressFiles {
  coreDir: string;
  contentDir: string;
}

/** Who may use the files: null, their owner alone; otherwise the web workers' account. */
export interface WordpressOwners {
  web: ServiceAccount | null;
}

/**
 * The package's files are world-readable; the site's copy is not. Run as an ordinary user, it is that
 * user's alone. Started by root, core belongs to root and the web workers' group may only read it,
 * while the content (uploads, plugins, themes) belongs to the workers: a WordPress bug can change
 * content, never core. Symbolic links, into the package's shared folders, are left as they are.
 */
async function makePrivate(folder: string, owners: WordpressOwners, part: "core" | "content"): Promise<void> {
  if (!owners.web) {
    await runProgramChecked("chmod", ["-R", "go-rwx", folder]);
    return;
  }
  const owner = part === "core" ? { uid: 0, gid: owners.web.gid } : owners.web;
  await giveTo(folder, owner, { recursive: true, groupReadable: true });
}

/**
 * Lays out a site's WordPress files like a container image plus a volume: one copy of core shared by
 * every pod of the site (with our wp-config.php and health endpoint), and the shared content volume
 * (plugins, themes, uploads: the tutorial's NFS volume) seeded once from the package's wp-content.
 * Both are built in temporary folders and renamed into place, so an interruption leaves nothing half-made.
 */
export async function prepareWordpressFiles(
  root: string,
  owners: WordpressOwners,
  source = DEBIAN_WORDPRESS,
): Promise<WordpressFiles> {
  const coreDir = join(root, "core");
  const contentDir = join(root, "content");
  if (!existsSync(join(source, "wp-settings.php"))) {
    throw new HapressError(
      `WordPress is not installed at ${source}: run scripts/install.sh (Debian package 'wordpress')`,
    );
  }
  await mkdir(root, { recursive: true, mode: 0o700 });
  // The workers go through it to core and content: root's, their group may enter.
  if (owners.web)
    await giveTo(root, { uid: 0, gid: owners.web.gid }, { recursive: false, groupReadable: true });
  if (!existsSync(contentDir)) {
    const work = `${contentDir}.tmp-${randomBytes(4).toString("hex")}`;
    await runProgramChecked("cp", ["-a", join(source, "wp-content"), work]);
    await makePrivate(work, owners, "content");
    await rename(work, contentDir);
  }
  if (!existsSync(coreDir)) {
    const work = `${coreDir}.tmp-${randomBytes(4).toString("hex")}`;
    try {
      await runProgramChecked("cp", ["-a", source, work]);
      // Debian's own wp-config.php looks up /etc/wordpress/config-<host>.php: ours reads the environment.
      await rm(join(work, "wp-config.php"), { force: true });
      await rm(join(work, ".htaccess"), { force: true });
      await rm(join(work, "wp-content"), { recursive: true, force: true });
      await symlink(contentDir, join(work, "wp-content"));
      await makePrivate(work, owners, "core");
      await rename(work, coreDir);
    } catch (error) {
      await rm(work, { recursive: true, force: true });
      throw new HapressError("preparing the WordPress files failed", { cause: error });
    }
  }
  // Written at every start, so a new hapress version brings its own.
  for (const [name, text] of [
    ["wp-config.php", WP_CONFIG_PHP],
    ["hapress-health.php", HEALTH_PHP],
    ["hapress-alive.php", ALIVE_PHP],
  ] as const) {
    const path = join(coreDir, name);
    await writeFile(path, text, { mode: 0o600 });
    // PHP's workers read them: the workers' group, read-only.
    if (owners.web)
      await giveTo(path, { uid: 0, gid: owners.web.gid }, { recursive: false, groupReadable: true });
    else await chmod(path, 0o600);
  }
  await writeContentFiles(contentDir, owners);
  return { coreDir, contentDir };
}

/**
 * The page cache's refresh plugin (a must-use plugin: loaded by WordPress whatever the admin activates)
 * and the database drop-in, written at every start so a new hapress brings its own.
 */
async function writeContentFiles(contentDir: string, owners: WordpressOwners): Promise<void> {
  const folder = join(contentDir, "mu-plugins");
  const found = await lstat(folder).catch(() => null);
  if (!found) {
    await mkdir(folder, { mode: 0o750 });
    if (owners.web) await chown(folder, owners.web.uid, owners.web.gid);
  } else if (!found.isDirectory()) {
    throw new HapressError(`${folder} is not a folder: the page cache's refresh plugin cannot be installed`);
  }
  await writeContentFile(join(folder, "hapress-cache-refresh.php"), CACHE_REFRESH_MU_PLUGIN, owners);
  // A drop-in of the site's own (a caching or debugging plugin's) is left in place: it wins, and the
  // README says what that costs (a page may fail while the primary changes).
  const dropIn = join(contentDir, DB_DROPIN_FILE);
  if (await isOursOrAbsent(dropIn)) await writeContentFile(dropIn, DB_DROPIN_PHP, owners);
}

/** True when nothing is at `path`, or a regular file hapress wrote (a symbolic link never is). */
async function isOursOrAbsent(path: string): Promise<boolean> {
  const found = await lstat(path).catch(() => null);
  if (!found) return true;
  if (!found.isFile()) return false;
  return (await readFile(path, "utf8")).includes(DB_DROPIN_MARK);
}

/**
 * A file of ours in the content folder, which is the workers' to change: started by root, it is made
 * without following anything they could have put there (no symlink is followed, ownership is set on
 * the open file, never by path), and PHP's workers may only read it.
 */
async function writeContentFile(path: string, text: string, owners: WordpressOwners): Promise<void> {
  await rm(path, { force: true });
  const file = await open(path, "wx", 0o600);
  try {
    await file.writeFile(text);
    if (owners.web) {
      await file.chown(0, owners.web.gid);
      await file.chmod(0o640);
    }
  } finally {
    await file.close();
  }
}

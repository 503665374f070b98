import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HapressError } from "../errors.js";
import { runProgramChecked } from "../util/process.js";
import { HEALTH_PHP, WP_CONFIG_PHP } from "./config.js";

/** Where Debian's wordpress package puts WordPress core. */
export const DEBIAN_WORDPRESS = "/usr/share/wordpress";

export interface WordpressFiles {
  coreDir: string;
  contentDir: string;
}

/**
 * Lays out a site's WordPress files like a container image plus a volume: one copy of core shared by
 * every pod of the site (with our wp-config.php and health endpoint), and the shared content volume
 * (plugins, themes, uploads: the tutorial's NFS volume) seeded once from the package's wp-content.
 * Both are built in temporary folders and renamed into place, so an interruption leaves nothing half-made.
 */
export async function prepareWordpressFiles(
  root: string,
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
  if (!existsSync(contentDir)) {
    const work = `${contentDir}.tmp-${randomBytes(4).toString("hex")}`;
    await runProgramChecked("cp", ["-a", join(source, "wp-content"), work]);
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
      await rename(work, coreDir);
    } catch (error) {
      await rm(work, { recursive: true, force: true });
      throw new HapressError("preparing the WordPress files failed", { cause: error });
    }
  }
  // Written at every start, so a new hapress version brings its own.
  await writeFile(join(coreDir, "wp-config.php"), WP_CONFIG_PHP, { mode: 0o644 });
  await writeFile(join(coreDir, "hapress-health.php"), HEALTH_PHP, { mode: 0o644 });
  return { coreDir, contentDir };
}

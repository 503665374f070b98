import { HapressError } from "../errors.js";
import type { SqlSession } from "../mysql/client.js";

export interface InstallInput {
  /** A ready WordPress pod, e.g. http://127.1.2.50:8080. */
  podUrl: string;
  title: string;
  adminUser: string;
  adminEmail: string;
  adminPassword: string;
  /** An app-user session on mysql-primary: holds the install lock and checks the result. */
  session: SqlSession;
}

const LOCK = "hapress-wordpress-install";

async function isInstalled(session: SqlSession): Promise<boolean> {
  const rows = await session.query(
    "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'wp_options'",
  );
  if (Number(rows[0]?.n) === 0) return false;
  const options = await session.query("SELECT COUNT(*) AS n FROM wp_options WHERE option_name = 'siteurl'");
  return Number(options[0]?.n) > 0;
}

/** The permalink structure WordPress's installer chooses when the site answers it (date and name). */
export const PERMALINK_STRUCTURE = "/%year%/%monthnum%/%day%/%postname%/";

/**
 * WordPress's installer enables pretty permalinks only if a request to the site itself answers within
 * 5 s (wp_install_maybe_enable_pretty_permalinks); on a busy machine it fell back to plain links, and
 * that site answered a missing upload with a redirect to its home page (200) instead of a 404 (found
 * by the stress run). Our web servers route pretty permalinks, so they are set here, the same on
 * every install; the rewrite rules are rebuilt by WordPress on its next request.
 */
async function setPrettyPermalinks(session: SqlSession): Promise<void> {
  await session.query("UPDATE wp_options SET option_value = ? WHERE option_name = 'permalink_structure'", [
    PERMALINK_STRUCTURE,
  ]);
  await session.query("DELETE FROM wp_options WHERE option_name = 'rewrite_rules'");
}

/**
 * Installs the site exactly once: under a database lock, so two installers can never race, and only
 * when WordPress's tables are not there yet. Returns whether this call installed it.
 */
export async function installSiteOnce(input: InstallInput): Promise<boolean> {
  const [lock] = await input.session.query("SELECT GET_LOCK(?, 60) AS got", [LOCK]);
  if (Number(lock?.got) !== 1) throw new HapressError("another installer holds the WordPress install lock");
  try {
    if (await isInstalled(input.session)) return false;
    const form = new URLSearchParams({
      weblog_title: input.title,
      user_name: input.adminUser,
      admin_password: input.adminPassword,
      admin_password2: input.adminPassword,
      pw_weak: "1",
      admin_email: input.adminEmail,
      blog_public: "0",
      language: "",
      Submit: "Install WordPress",
    });
    const response = await fetch(`${input.podUrl}/wp-admin/install.php?step=2`, {
      method: "POST",
      body: form,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      signal: AbortSignal.timeout(60_000),
    });
    const body = await response.text();
    if (!(await isInstalled(input.session))) {
      const text = body
        .replace(/<[^>]+>/g, " ")
        .replace(/\s+/g, " ")
        .trim()
        .slice(0, 300);
      throw new HapressError(`the WordPress install did not complete (HTTP ${response.status}): ${text}`);
    }
    await setPrettyPermalinks(input.session);
    return true;
  } finally {
    await input.session.query("SELECT RELEASE_LOCK(?)", [LOCK]).catch(() => undefined);
  }
}

import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { lookupAccount, type ServiceAccount } from "../../util/accounts.js";
import { runProgramChecked } from "../../util/process.js";

export { giveTo, lookupAccount, type ServiceAccount } from "../../util/accounts.js";

/**
 * Who the site's services run as. null: everything runs as the user who started the site (an
 * ordinary user's own machine). Started by root, the database runs as `mysql`, WordPress's workers
 * as `www-data` and the load balancer as `haproxy`, as Debian's own packages run them: a WordPress
 * bug is not root on the machine.
 */
export interface ServiceAccounts {
  mysql: ServiceAccount;
  web: ServiceAccount;
  /** The load balancer, once it has bound its ports (Debian's haproxy package creates it). */
  haproxy: ServiceAccount;
}

/** Where the services' own files live (data, sockets, WordPress), and whose they are. */
export interface SiteLayout {
  /** The state folder itself for an ordinary user; for root, a folder the service accounts can reach. */
  serviceRoot: string;
  accounts: ServiceAccounts | null;
  /** A pod's service-owned folder: a database pod's data and socket, a WordPress pod's run folder. */
  podServiceDir(pod: string): string;
  mysqlDataDir(pod: string): string;
  mysqlRunDir(pod: string): string;
  wordpressRunDir(pod: string): string;
  wordpressRoot: string;
}

/**
 * Run as root, the state folder may sit where no service account can enter (a home folder, a 0700
 * temporary folder). The services' files go under this root instead, one folder per state folder,
 * enterable (not listable) on the way down, like /var/lib/docker.
 */
export const SYSTEM_SERVICE_ROOT = "/var/lib/hapress";

/** The service root of a state folder run by root: named after the folder's absolute path. */
export function systemServiceRoot(stateDir: string): string {
  const digest = createHash("sha256").update(resolve(stateDir)).digest("hex").slice(0, 16);
  return join(SYSTEM_SERVICE_ROOT, `site-${digest}`);
}

/** The layout of a site (pure): `accounts` null keeps every file in the state folder. */
export function siteLayout(stateDir: string, accounts: ServiceAccounts | null): SiteLayout {
  const serviceRoot = accounts ? systemServiceRoot(stateDir) : stateDir;
  const podServiceDir = (pod: string) => join(serviceRoot, "pods", pod);
  return {
    serviceRoot,
    accounts,
    podServiceDir,
    mysqlDataDir: (pod) => join(podServiceDir(pod), "data"),
    mysqlRunDir: (pod) => join(podServiceDir(pod), "run"),
    wordpressRunDir: (pod) => join(podServiceDir(pod), "run"),
    wordpressRoot: join(serviceRoot, "wordpress"),
  };
}

/** The layout of a site run by this process (root: the service accounts; anyone else: none). */
export function currentLayout(stateDir: string): SiteLayout {
  return siteLayout(stateDir, serviceAccountsFor(process.getuid?.()));
}

/** The accounts for a site started by `uid`: none unless root. */
export function serviceAccountsFor(uid: number | undefined): ServiceAccounts | null {
  if (uid !== 0) return null;
  return {
    mysql: lookupAccount(
      "mysql",
      "/etc/passwd",
      " (created by Debian's mariadb-server: run scripts/install.sh)",
    ),
    web: lookupAccount("www-data", "/etc/passwd", " (part of every Debian system)"),
    haproxy: lookupAccount(
      "haproxy",
      "/etc/passwd",
      " (created by Debian's haproxy: run scripts/install.sh)",
    ),
  };
}

/** Creates the service root and its `pods` folder: root's, enterable by the service accounts. */
export async function ensureServiceRoot(layout: SiteLayout): Promise<void> {
  if (!layout.accounts) return;
  for (const dir of [SYSTEM_SERVICE_ROOT, layout.serviceRoot, join(layout.serviceRoot, "pods")]) {
    await mkdir(dir, { recursive: true, mode: 0o711 });
    await runProgramChecked("chmod", ["0711", dir]);
  }
}

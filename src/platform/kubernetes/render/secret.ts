// The site's credentials as one Secret, keyed by the official images' variable names.
import {
  ADMIN_USER,
  APP_DATABASE,
  APP_USER,
  type Context,
  type K8sObject,
  metadata,
  REPLICATION_USER,
  SECRET_NAME,
} from "./common.js";
import { WORDPRESS_KEY_NAMES } from "../secrets.js";
import { createHmac } from "node:crypto";
import { BACKUP_USER, EXPORTER_USER } from "../../../state/secrets.js";
import { serverWatchKey } from "../../../agent/clone-channel.js";
import { cacheRefreshToken, refreshTokenMap } from "../../../wordpress/page-cache.js";

/** The Secret: credentials and WordPress keys, with the official images' variable names as keys. */
export function credentialsSecret(ctx: Context): K8sObject {
  const s = ctx.secrets;
  const keys: Record<string, string> = {};
  for (const name of WORDPRESS_KEY_NAMES)
    keys[`wordpress-${name.toLowerCase().replace(/_/g, "-")}`] = s.wordpressKeys[name];
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: metadata(ctx, SECRET_NAME, "database"),
    type: "Opaque",
    stringData: {
      "mariadb-root-password": s.rootPassword,
      "replication-user": REPLICATION_USER,
      "replication-password": s.replicationPassword,
      "admin-user": ADMIN_USER,
      "admin-password": s.adminPassword,
      "app-user": APP_USER,
      "app-password": s.appPassword,
      "app-database": APP_DATABASE,
      "backup-user": BACKUP_USER,
      "backup-password": s.backupPassword,
      // mysqld_exporter's, derived: nothing new to keep, and it reveals nothing of the admin's.
      "exporter-user": EXPORTER_USER,
      "exporter-password": derivedPassword(s.adminPassword, "hapress mysqld exporter"),
      "clone-token": s.cloneToken,
      // The controller's key to the agents' server watch: derived, so it cannot fetch a backup.
      "server-watch-key": serverWatchKey(s.cloneToken).toString("hex"),
      "wordpress-admin-password": s.wordpressAdminPassword,
      // The page cache's refresh token, for the refresh plugin, and as the map the cache's nginx includes.
      "cache-refresh-token": cacheRefreshToken(s.wordpressKeys.AUTH_KEY),
      "cache-refresh-map": `${refreshTokenMap(cacheRefreshToken(s.wordpressKeys.AUTH_KEY))}\n`,
      ...keys,
    },
  };
}

/** A password derived from a secret with HMAC-SHA256 (base64url, 43 characters): one-way, stable. */
function derivedPassword(secret: string, purpose: string): string {
  return createHmac("sha256", secret).update(purpose).digest("base64url");
}

import { randomBytes } from "node:crypto";
import { chmod } from "node:fs/promises";
import { z } from "zod";
import { readJsonFile, writeJsonFile } from "../../state/files.js";
import {
  generatePassword,
  passwordSchema,
  WORDPRESS_KEY_NAMES,
  wordpressKeySchema,
} from "../../state/secrets.js";

// One list of WordPress key and salt names for both targets.
export { WORDPRESS_KEY_NAMES };

/** Every credential of a Kubernetes deployment of the site. */
export interface ClusterSecrets {
  rootPassword: string;
  replicationPassword: string;
  adminPassword: string;
  appPassword: string;
  backupPassword: string;
  cloneToken: string;
  wordpressAdminPassword: string;
  wordpressKeys: Record<(typeof WORDPRESS_KEY_NAMES)[number], string>;
}

/** The secrets file as read: every field optional (what is missing is generated), each in its character set. */
const clusterSecretsFileSchema = z
  .object({
    rootPassword: passwordSchema,
    replicationPassword: passwordSchema,
    adminPassword: passwordSchema,
    appPassword: passwordSchema,
    backupPassword: passwordSchema,
    cloneToken: passwordSchema,
    wordpressAdminPassword: passwordSchema,
    wordpressKeys: z.record(z.string(), wordpressKeySchema),
  })
  .partial()
  .strict();

function generateKey(): string {
  return randomBytes(48).toString("base64");
}

/**
 * Reads the secrets file and generates only what is missing, so rendering again never rotates a
 * credential the cluster already uses. The file is written (mode 0600) only when something was added.
 */
export async function loadOrCreateClusterSecrets(
  path: string,
): Promise<{ secrets: ClusterSecrets; created: string[] }> {
  const existing = (await readJsonFile(path, clusterSecretsFileSchema)) ?? {};
  const created: string[] = [];
  const pick = (key: keyof Omit<ClusterSecrets, "wordpressKeys">): string => {
    const value = existing[key];
    if (typeof value === "string" && value.length > 0) return value;
    created.push(key);
    return generatePassword();
  };
  const keys = {} as ClusterSecrets["wordpressKeys"];
  for (const name of WORDPRESS_KEY_NAMES) {
    const value = existing.wordpressKeys?.[name];
    if (typeof value === "string" && value.length > 0) keys[name] = value;
    else {
      keys[name] = generateKey();
      created.push(`wordpressKeys.${name}`);
    }
  }
  const secrets: ClusterSecrets = {
    rootPassword: pick("rootPassword"),
    replicationPassword: pick("replicationPassword"),
    adminPassword: pick("adminPassword"),
    appPassword: pick("appPassword"),
    backupPassword: pick("backupPassword"),
    cloneToken: pick("cloneToken"),
    wordpressAdminPassword: pick("wordpressAdminPassword"),
    wordpressKeys: keys,
  };
  if (created.length > 0) await writeJsonFile(path, secrets);
  else await chmod(path, 0o600);
  return { secrets, created };
}

import { randomBytes } from "node:crypto";
import { chmod } from "node:fs/promises";
import { z } from "zod";
import { readJsonFile, writeJsonFile } from "./files.js";

/** Credentials of a site. Generated once with crypto randomness, kept in a 0600 file. */
export interface Secrets {
  replicationUser: string;
  replicationPassword: string;
  adminUser: string;
  adminPassword: string;
  appUser: string;
  appPassword: string;
  appDatabase: string;
  /**
   * The account `mariadb-backup` logs in with through the instance's socket (a password, so it works
   * whoever the operating-system user is), with only the privileges a backup needs.
   */
  backupUser: string;
  /** The mysqld_exporter's account: the server's state, never its data (see EXPORTER_PRIVILEGES). */
  exporterUser: string;
  exporterPassword: string;
  backupPassword: string;
  /** Shared token a peer must present to receive a backup stream from an agent. */
  cloneToken: string;
  /** The WordPress administrator's password, generated once. */
  wordpressAdminPassword: string;
  /** WordPress keys and salts (AUTH_KEY…NONCE_SALT): generated once, so logins survive pod changes. */
  wordpressKeys: Record<string, string>;
}

export const WORDPRESS_KEY_NAMES = [
  "AUTH_KEY",
  "SECURE_AUTH_KEY",
  "LOGGED_IN_KEY",
  "NONCE_KEY",
  "AUTH_SALT",
  "SECURE_AUTH_SALT",
  "LOGGED_IN_SALT",
  "NONCE_SALT",
] as const;

/**
 * The character sets hapress generates. A secret read from a file is checked against them before it
 * is used inside SQL quotes, option files or shell-sourced scripts: a quote or a line break there
 * would be an injection, whoever edited the file.
 */
export const passwordSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,128}$/, "must be 16-128 characters of A-Z a-z 0-9 _ - (as hapress generates)");
export const wordpressKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9+/=]{16,128}$/, "must be 16-128 base64 characters (as hapress generates)");
const userNameSchema = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,31}$/, "must be a plain user name, e.g. wordpress");
export const wordpressKeysSchema = z.record(z.string(), wordpressKeySchema);

const secretsFileSchema = z
  .object({
    replicationUser: userNameSchema,
    replicationPassword: passwordSchema,
    adminUser: userNameSchema,
    adminPassword: passwordSchema,
    appUser: userNameSchema,
    appPassword: passwordSchema,
    appDatabase: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, "must be a plain database name, e.g. wordpress"),
    backupUser: userNameSchema,
    backupPassword: passwordSchema,
    exporterUser: userNameSchema,
    exporterPassword: passwordSchema,
    cloneToken: passwordSchema,
    wordpressAdminPassword: passwordSchema,
    wordpressKeys: wordpressKeysSchema,
  })
  .strict();

/** The mysqld_exporter's account name. */
export const EXPORTER_USER = "hapress_exporter";

/** The backup account's name, on both targets. */
export const BACKUP_USER = "hapress_backup";

/** A random password of URL-safe characters, 32 characters (192 bits). */
export function generatePassword(): string {
  return randomBytes(24).toString("base64url");
}

function generateSecrets(): Secrets {
  return {
    replicationUser: "repl",
    replicationPassword: generatePassword(),
    adminUser: "hapress_admin",
    adminPassword: generatePassword(),
    appUser: "wordpress",
    appPassword: generatePassword(),
    appDatabase: "wordpress",
    backupUser: BACKUP_USER,
    backupPassword: generatePassword(),
    exporterUser: EXPORTER_USER,
    exporterPassword: generatePassword(),
    cloneToken: generatePassword(),
    wordpressAdminPassword: generatePassword(),
    wordpressKeys: Object.fromEntries(
      WORDPRESS_KEY_NAMES.map((name) => [name, randomBytes(48).toString("base64")]),
    ),
  };
}

/**
 * Loads the site's secrets, generating any that are missing; never rotates an existing one,
 * because the database already holds them.
 */
export async function loadOrCreateSecrets(path: string): Promise<Secrets> {
  const existing = (await readJsonFile(path, secretsFileSchema.partial())) ?? {};
  const generated = generateSecrets();
  const merged: Secrets = { ...generated, ...existing };
  const missing = (Object.keys(generated) as (keyof Secrets)[]).filter((key) => !existing[key]);
  if (missing.length > 0) await writeJsonFile(path, merged);
  else await chmod(path, 0o600);
  return merged;
}

/** Loads secrets that must already exist (for a running site). */
export async function loadSecrets(path: string): Promise<Secrets> {
  const secrets = await readJsonFile(path, secretsFileSchema);
  if (!secrets) throw new Error(`no secrets file at ${path}: run 'hapress up' first`);
  return secrets;
}

import { randomBytes } from "node:crypto";
import { chmod } from "node:fs/promises";
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
  const existing = (await readJsonFile<Partial<Secrets>>(path)) ?? {};
  const generated = generateSecrets();
  const merged: Secrets = { ...generated, ...existing };
  const missing = (Object.keys(generated) as (keyof Secrets)[]).filter((key) => !existing[key]);
  if (missing.length > 0) await writeJsonFile(path, merged);
  else await chmod(path, 0o600);
  return merged;
}

/** Loads secrets that must already exist (for a running site). */
export async function loadSecrets(path: string): Promise<Secrets> {
  const secrets = await readJsonFile<Secrets>(path);
  if (!secrets) throw new Error(`no secrets file at ${path}: run 'hapress up' first`);
  return secrets;
}

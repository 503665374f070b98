import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { z } from "zod";
import { ARCHIVE_FOLDER } from "./archive-folder.js";

/**
 * A backup is one folder: `database/` (a prepared physical copy, ready to start), `wp-content/`
 * (uploads, plugins, themes, copied right after the database's end position), `spec.json`,
 * `secrets.json` only when asked for, and `manifest.json`, written last. The manifest lists every
 * other file with its size and SHA-256 (a symbolic link with its target), so a restore can prove
 * that what it reads is what was written.
 */

export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_FORMAT = 1;

const fileEntrySchema = z
  .object({
    bytes: z.number().int().min(0),
    /** Hex SHA-256 of the content; for a symbolic link, of its target path. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    link: z.boolean().optional(),
  })
  .strict();

export type FileEntry = z.infer<typeof fileEntrySchema>;

export const manifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    site: z.string(),
    createdAt: z.string(),
    /** The backed-up data's GTID position: where binary logs replay from. */
    gtid: z.string(),
    source: z.object({ instance: z.string(), role: z.enum(["primary", "replica"]) }).strict(),
    database: z.object({ bytes: z.number(), seconds: z.number() }).strict(),
    wpContent: z.object({ bytes: z.number(), files: z.number() }).strict().nullable(),
    withSecrets: z.boolean(),
    /**
     * The archive folder beside the backup whose binary logs continue it (see SiteRecord.archive);
     * absent in backups made before there was a choice: `binlogs`.
     */
    archive: z.string().regex(ARCHIVE_FOLDER).optional(),
    versions: z.object({ hapress: z.string(), mariadb: z.string() }).strict(),
    files: z.record(z.string(), fileEntrySchema),
  })
  .strict();

export type BackupManifest = z.infer<typeof manifestSchema>;

function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}

/** Every regular file and symbolic link under `root` (never following links), with its entry. */
export async function describeTree(
  root: string,
  skip: ReadonlySet<string> = new Set(),
): Promise<Record<string, FileEntry>> {
  const entries: Record<string, FileEntry> = {};
  // An explicit stack, not recursion: a deep tree costs memory, never the call stack.
  const pending = [root];
  while (pending.length > 0) {
    const folder = pending.pop() ?? root;
    for (const item of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, item.name);
      const name = relative(root, path).split(sep).join("/");
      if (skip.has(name)) continue;
      if (item.isDirectory()) pending.push(path);
      else if (item.isSymbolicLink()) {
        const target = await readlink(path);
        entries[name] = { bytes: 0, sha256: createHash("sha256").update(target).digest("hex"), link: true };
      } else if (item.isFile()) {
        entries[name] = { bytes: (await lstat(path)).size, sha256: await sha256OfFile(path) };
      }
    }
  }
  return entries;
}

/**
 * What differs between the files a manifest lists and the files found (pure): each problem names
 * the file. An empty list means the backup is whole.
 */
export function compareFiles(
  expected: Record<string, FileEntry>,
  found: Record<string, FileEntry>,
): string[] {
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(expected)) {
    const actual = found[name];
    if (!actual) problems.push(`${name}: missing`);
    else if (Boolean(actual.link) !== Boolean(entry.link))
      problems.push(`${name}: ${entry.link ? "should be a symbolic link" : "should be a file"}`);
    else if (actual.bytes !== entry.bytes)
      problems.push(`${name}: ${actual.bytes} bytes, the manifest says ${entry.bytes}`);
    else if (actual.sha256 !== entry.sha256)
      problems.push(`${name}: its SHA-256 differs from the manifest's`);
  }
  for (const name of Object.keys(found))
    if (!(name in expected)) problems.push(`${name}: not in the manifest`);
  return problems.sort();
}

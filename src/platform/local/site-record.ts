import { z } from "zod";
import { ARCHIVE_FOLDER } from "../../backup/archive-folder.js";
import { readJsonFile, writeJsonFile } from "../../state/files.js";
import { subnetForStateDir, type Subnet } from "../../topology/topology.js";

/** Facts fixed when a site is first created: its subnet stays stable even if the spec changes. */
export interface SiteRecord {
  name: string;
  subnet: Subnet;
  createdAt: string;
  /**
   * The folder of the backup root holding this site's binary-log archive: `binlogs`, or for a site
   * restored beside another history, `binlogs-<time>` (a restored site's transactions repeat the GTIDs
   * of the history it left: the two must never share segments).
   */
  archive?: string;
}

const siteRecordSchema = z.object({
  name: z.string().min(1),
  subnet: z.string().regex(/^127\.\d{1,3}\.\d{1,3}$/, "must be a loopback /24 written as 127.A.B"),
  createdAt: z.string(),
  archive: z.string().regex(ARCHIVE_FOLDER, "must be binlogs or binlogs-<UTC time>").optional(),
});

export async function readSiteRecord(path: string): Promise<SiteRecord | null> {
  return readJsonFile(path, siteRecordSchema);
}

/** Reads the site record, creating it (with a subnet derived from the state folder) on first use. */
export async function ensureSiteRecord(path: string, name: string, stateDir: string): Promise<SiteRecord> {
  const existing = await readSiteRecord(path);
  if (existing) return existing;
  const record: SiteRecord = {
    name,
    subnet: subnetForStateDir(stateDir),
    createdAt: new Date().toISOString(),
  };
  await writeJsonFile(path, record);
  return record;
}

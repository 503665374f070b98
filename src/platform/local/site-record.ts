import { z } from "zod";
import { readJsonFile, writeJsonFile } from "../../state/files.js";
import { subnetForStateDir, type Subnet } from "../../topology/topology.js";

/** Facts fixed when a site is first created: its subnet stays stable even if the spec changes. */
export interface SiteRecord {
  name: string;
  subnet: Subnet;
  createdAt: string;
}

const siteRecordSchema = z.object({
  name: z.string().min(1),
  subnet: z.string().regex(/^127\.\d{1,3}\.\d{1,3}$/, "must be a loopback /24 written as 127.A.B"),
  createdAt: z.string(),
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

/** The archive folder of a site that never was restored beside another history. */
export const DEFAULT_ARCHIVE = "binlogs";

/** Archive folders in a backup root: `binlogs` and the restored sites' `binlogs-<time>`. */
export const ARCHIVE_FOLDER = /^binlogs(-\d{8}T\d{6}Z)?$/;

export function isArchiveFolder(name: string): boolean {
  return ARCHIVE_FOLDER.test(name);
}

/**
 * The archive folder for a site restored now (pure): `binlogs` when the backup root holds no history
 * there yet, otherwise a folder of its own, `binlogs-<time>` (the restored site's GTIDs repeat those
 * of the history it left, so their segments must never mix).
 */
export function archiveFolderForRestore(defaultHoldsSegments: boolean, now: Date): string {
  if (!defaultHoldsSegments) return DEFAULT_ARCHIVE;
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${DEFAULT_ARCHIVE}-${stamp}`;
}

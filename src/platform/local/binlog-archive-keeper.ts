import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ArchiveGap } from "../../backup/archive-gaps.js";
import { archivedFiles, oldestBinlog, segmentLagBytes } from "../../backup/binlog-archiver.js";
import { ArchiveGapWatch } from "../../backup/gap-watch.js";
import { errorMessage } from "../../errors.js";
import type { PrimaryRecord } from "../../state/primary.js";
import type { Secrets } from "../../state/secrets.js";
import { ADMIN_PORT, MYSQL_PORT } from "../../topology/topology.js";
import type { ProcessManager } from "./processes.js";

export const ARCHIVER_PROCESS = "archiver/binlogs";

/** The segment folder of one primary's term: `<epoch, 6 digits>-<pod>`, so names sort by time. */
export function segmentName(record: Pick<PrimaryRecord, "epoch" | "primary">): string {
  return `${String(record.epoch).padStart(6, "0")}-${record.primary}`;
}

export interface ArchiveKeeperDeps {
  processes: ProcessManager;
  self: { command: string; args: string[] };
  logFile: string;
  log: (message: string) => void;
  /** A hole found in the archive (once per hole): the supervisor records it as an event. */
  onGap: (gap: ArchiveGap) => void;
  now: () => number;
}

/**
 * Keeps one binary-log archiver following the recorded primary (see backup/binlog-archiver.ts): a new
 * segment with every new primary record, the old archiver stopped first. The archiver runs as the
 * site's owner, as `hapress backup` does: it writes into the backup folder, which may sit where the
 * database's account cannot enter (the state folder), and it listens on nothing (a client of the
 * primary, through the replication account).
 */
export class BinlogArchiveKeeper {
  private segment: string | null = null;
  private archiveDir: string | null = null;
  private readonly gapWatch: ArchiveGapWatch;

  constructor(private readonly deps: ArchiveKeeperDeps) {
    this.gapWatch = new ArchiveGapWatch(deps);
  }

  /** Where the archive is, for status. */
  following(): string | null {
    return this.deps.processes.isRunning(ARCHIVER_PROCESS) ? this.segment : null;
  }

  /** The holes the last check found (status shows them: a restore across one is refused). */
  gaps(): ArchiveGap[] {
    return this.gapWatch.gaps();
  }

  /**
   * Bytes of the primary's binary logs that the archive does not hold yet (asked of the primary on
   * its admin port); null when nothing is being archived.
   */
  async lag(primaryAddress: string, secrets: Secrets): Promise<{ segment: string; bytes: number } | null> {
    const segment = this.following();
    if (segment === null || this.archiveDir === null) return null;
    const bytes = await segmentLagBytes(
      join(this.archiveDir, segment),
      { host: primaryAddress, port: ADMIN_PORT },
      { user: secrets.adminUser, password: secrets.adminPassword },
    );
    return { segment, bytes };
  }

  async reconcile(input: {
    enabled: boolean;
    archiveDir: string;
    record: PrimaryRecord | null;
    primaryAddress: string | null;
    primaryReady: boolean;
    secrets: Secrets;
  }): Promise<void> {
    const { record } = input;
    this.archiveDir = input.archiveDir;
    if (input.enabled) this.gapWatch.checkWhenDue(input.archiveDir);
    if (!input.enabled || !record || !input.primaryAddress) {
      if (this.deps.processes.info(ARCHIVER_PROCESS)) await this.deps.processes.stop(ARCHIVER_PROCESS, 5000);
      this.segment = null;
      return;
    }
    const wanted = segmentName(record);
    if (this.segment === wanted) return;
    // A new primary (or a supervisor that does not know what the running one follows): start afresh.
    if (this.deps.processes.info(ARCHIVER_PROCESS)) await this.deps.processes.stop(ARCHIVER_PROCESS, 5000);
    if (!input.primaryReady) return;
    const segmentDir = join(input.archiveDir, wanted);
    let first: string;
    try {
      first = await oldestBinlog(
        { host: input.primaryAddress, port: ADMIN_PORT },
        { user: input.secrets.adminUser, password: input.secrets.adminPassword },
      );
      await mkdir(segmentDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      this.deps.log(`the binary log archive cannot start yet: ${errorMessage(error)}`);
      return;
    }
    const held = archivedFiles(segmentDir).length;
    this.deps.log(
      `archiving ${record.primary}'s binary logs into ${segmentDir}${held > 0 ? ` (resuming, ${held} file(s) held)` : ""}`,
    );
    this.deps.processes.ensure({
      name: ARCHIVER_PROCESS,
      pod: "archiver",
      command: this.deps.self.command,
      args: [
        ...this.deps.self.args,
        "agent",
        "archive-binlogs",
        "--host",
        input.primaryAddress,
        "--port",
        String(MYSQL_PORT),
        "--segment",
        segmentDir,
        "--first",
        first,
        "--user",
        input.secrets.replicationUser,
        "--password-env",
        "HAPRESS_REPLICATION_PASSWORD",
      ],
      env: { HAPRESS_REPLICATION_PASSWORD: input.secrets.replicationPassword },
      logFile: this.deps.logFile,
    });
    this.segment = wanted;
  }
}

import { spawn, type ChildProcess } from "node:child_process";
import { backupRoot } from "../../backup/list.js";
import { pruneBackups } from "../../backup/prune.js";
import { statePaths } from "../../state/files.js";
import { readSiteRecord } from "./site-record.js";
import { nextRun } from "../../backup/schedule.js";
import { errorMessage } from "../../errors.js";
import type { Spec } from "../../spec/schema.js";

export interface BackupSchedulerDeps {
  self: { command: string; args: string[] };
  stateDir: string;
  log: (message: string, level?: "info" | "error") => void;
  now: () => Date;
}

/**
 * Runs `hapress backup` when `backup.schedule` says (one at a time, as its own process, so a long
 * backup never holds up the supervisor's rounds), then applies `backup.keep`. An occurrence that
 * comes while the site is not ready, or while the previous backup still runs, is skipped and logged.
 */
export class BackupScheduler {
  private expression: string | null = null;
  private next: Date | null = null;
  private running: ChildProcess | null = null;

  constructor(private readonly deps: BackupSchedulerDeps) {}

  /** Called every supervisor round. */
  reconcile(spec: Spec, siteReady: boolean): void {
    const expression = spec.backup.schedule ?? null;
    const now = this.deps.now();
    if (expression !== this.expression) {
      this.expression = expression;
      this.next = expression ? nextRun(expression, now) : null;
      if (this.next) this.deps.log(`scheduled backups: the next at ${this.next.toISOString()}`);
    }
    if (!expression || !this.next || now < this.next) return;
    const due = this.next;
    this.next = nextRun(expression, now);
    if (this.running)
      return this.deps.log(`scheduled backup of ${due.toISOString()} skipped: the previous one still runs`);
    if (!siteReady)
      return this.deps.log(`scheduled backup of ${due.toISOString()} skipped: the site is not ready`);
    this.start(spec);
  }

  stop(): void {
    this.running?.kill("SIGTERM");
  }

  private start(spec: Spec): void {
    const child = spawn(
      this.deps.self.command,
      [...this.deps.self.args, "--dir", this.deps.stateDir, "backup", "--json"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.running = child;
    let output = "";
    let errors = "";
    child.stdout.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-1_000_000)));
    child.stderr.on("data", (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-4000)));
    child.on("error", (error) =>
      this.deps.log(`scheduled backup could not start: ${error.message}`, "error"),
    );
    child.on("close", (code) => {
      this.running = null;
      if (code !== 0) {
        this.deps.log(
          `scheduled backup failed (exit ${code}): ${errors.trim().split("\n").slice(-2).join(" | ")}`,
          "error",
        );
        return;
      }
      const dir = (() => {
        try {
          return (JSON.parse(output) as { dir?: string }).dir ?? "?";
        } catch {
          return "?";
        }
      })();
      this.deps.log(`scheduled backup taken: ${dir}`);
      void this.prune(spec).catch((error: unknown) =>
        this.deps.log(`pruning old backups failed: ${errorMessage(error)}`, "error"),
      );
    });
  }

  private async prune(spec: Spec): Promise<void> {
    const site = await readSiteRecord(statePaths(this.deps.stateDir).site);
    const removed = await pruneBackups(
      backupRoot(this.deps.stateDir, spec),
      spec.backup.keep,
      this.deps.now(),
      site?.archive,
    );
    for (const what of removed) this.deps.log(`removed ${what} (backup.keep)`);
  }
}

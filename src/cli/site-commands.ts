import type { Command } from "commander";
import { createInterface } from "node:readline/promises";
import { InputError } from "../errors.js";
import { firstAdminLogin, up } from "../platform/local/site-control.js";
import { loadSpec } from "../spec/load.js";
import { statePaths } from "../state/files.js";
import { addClusterOptions, type ClusterTarget } from "./cluster-options.js";
import { formatStatus, metricsLine } from "./format.js";
import { parseCount, parseSeconds, report, type GlobalOptions } from "./options.js";
import { stateDirOf } from "./program.js";
import { selfCommand } from "./self-command.js";
import { openSiteTarget } from "./site-target.js";

/** The site's life: `up` (local), `down`, `status` and `scale` (either target, see site-target.ts). */
export function addSiteCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command("up")
    .description("start the site locally (or reconcile a running one to the spec) and wait until it is ready")
    .option("--timeout <seconds>", "how long to wait for readiness", parseSeconds, 600)
    .option("--json", "print the final status as JSON")
    .action(async (options: { timeout: number; json?: boolean }) => {
      const g = globals();
      const file = g.file ?? "hapress.yaml";
      const spec = await loadSpec(file, { explicit: g.file !== undefined });
      const stateDir = stateDirOf(g);
      const started = Date.now();
      const status = await up(spec, file, stateDir, selfCommand(), report, options.timeout * 1000);
      if (options.json) return console.log(JSON.stringify(status, null, 2));
      console.log(`site ${status.site} is ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      console.log(`  primary:          ${status.primary ?? "?"}`);
      console.log(`  mysql-primary:    ${status.endpoints.mysqlPrimary}   (writes)`);
      console.log(`  mysql-replicas:   ${status.endpoints.mysqlReplicas}   (reads)`);
      console.log(`  semi-sync:        ${status.database.semiSync} (${status.database.semiSyncDetail})`);
      if (status.endpoints.http)
        console.log(
          `  site:             ${status.endpoints.http}   (admin: ${status.endpoints.http}/wp-admin/)`,
        );
      if (status.endpoints.metrics)
        console.log(`  metrics:          ${metricsLine(status.endpoints.metrics)}`);
      console.log(
        `  credentials:      ${statePaths(stateDir).secrets} (mode 0600; or 'hapress status --show-secrets')`,
      );
      const first = await firstAdminLogin(stateDir);
      if (first)
        console.log(
          `  WordPress admin:  ${first.user} / ${first.password}   (shown once; kept in the credentials file)`,
        );
    });

  addClusterOptions(
    program
      .command("down")
      .description("stop every process of the site and wait for them; --volumes also deletes its data"),
  )
    .option("--volumes", "delete the data, secrets and logs too")
    .option("-y, --yes", "do not ask before deleting data")
    .option(
      "--timeout <seconds>",
      "Kubernetes: how long to wait for the site's pods to stop",
      parseSeconds,
      300,
    )
    .action(async (options: ClusterTarget & { volumes?: boolean; yes?: boolean; timeout: number }) => {
      const site = openSiteTarget(globals(), options);
      if (options.volumes && !options.yes) {
        if (!process.stdin.isTTY) {
          throw new InputError("down --volumes deletes all data: confirm with --yes (no terminal to ask on)");
        }
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(`Delete ${site.dataDescription}? Type 'yes': `);
        rl.close();
        if (answer.trim() !== "yes") throw new InputError("not confirmed; nothing deleted");
      }
      await site.down({ volumes: options.volumes === true, timeoutMs: options.timeout * 1000 });
    });

  addClusterOptions(
    program.command("status").description("show the site's pods, roles, replication and endpoints"),
  )
    .option("--json", "machine-readable output (a stable contract, see README)")
    .option("--show-secrets", "include credentials")
    .action(async (options: ClusterTarget & { json?: boolean; showSecrets?: boolean }) => {
      const status = await openSiteTarget(globals(), options).status(options.showSecrets === true);
      console.log(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    });

  const scale = program.command("scale").description("change the number of replicas of a tier");
  for (const tier of ["mysql", "wordpress"] as const) {
    const database = tier === "mysql";
    addClusterOptions(
      scale
        .command(tier)
        .description(
          database
            ? "scale the database tier: up clones new replicas; down removes the highest ordinals, never the primary"
            : "scale the WordPress tier: down removes the highest ordinals first",
        ),
    )
      .argument(
        "<replicas>",
        database ? "number of database instances (1-9)" : "number of WordPress pods (0-20)",
        database ? parseCount(1, 9) : parseCount(0, 20),
      )
      .option("--timeout <seconds>", "how long to wait for readiness", parseSeconds, 600)
      .action(async (replicas: number, options: ClusterTarget & { timeout: number }) => {
        const line = await openSiteTarget(globals(), options).scale(tier, replicas, options.timeout * 1000);
        if (line) console.log(line);
      });
  }
}

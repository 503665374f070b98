import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { HapressError } from "../errors.js";
import { callRpc, SupervisorUnreachable } from "../platform/local/rpc.js";
import { renderServiceUnit, serviceUnitDir, serviceUnitName } from "../platform/local/service-unit.js";
import { specSchema } from "../spec/schema.js";
import { readJsonFile, statePaths } from "../state/files.js";
import { processExists, runProgram, sleep } from "../util/process.js";
import { report } from "./options.js";

interface ServiceContext {
  stateDir: string;
  self: { command: string; args: string[] };
}

/** systemd manages services here only when it is PID 1 (not in most containers, nor on these test machines). */
function systemdRunning(): boolean {
  return existsSync("/run/systemd/system");
}

async function unitFor(stateDir: string, unitDir?: string) {
  const spec = await readJsonFile(statePaths(stateDir).spec, specSchema);
  if (!spec)
    throw new HapressError(`no site in ${stateDir}: run 'hapress up' first, then 'hapress service install'`);
  const system = process.getuid?.() === 0;
  const name = serviceUnitName(spec.name, stateDir);
  const dir = unitDir ?? serviceUnitDir(system, homedir());
  return { spec, system, name, dir, path: join(dir, name), scope: system ? [] : ["--user"] };
}

async function systemctl(scope: string[], args: string[]): Promise<string> {
  const result = await runProgram("systemctl", [...scope, ...args], { timeoutMs: 300_000 });
  if (result.code !== 0)
    throw new HapressError(`systemctl ${[...scope, ...args].join(" ")} failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** Asks a running supervisor to leave without stopping anything; its successor adopts the site. */
async function handOver(stateDir: string): Promise<boolean> {
  try {
    const { pid } = await callRpc<{ pid: number }>(statePaths(stateDir).socket, { method: "handover" });
    for (let i = 0; i < 100 && processExists(pid); i++) await sleep(100);
    return true;
  } catch (error) {
    if (error instanceof SupervisorUnreachable) return false;
    throw error;
  }
}

export function addServiceCommands(program: Command, context: () => ServiceContext): void {
  const service = program
    .command("service")
    .description("run the site's supervisor as a systemd service (start at boot, restart on a crash)");
  service
    .command("install")
    .description("write the site's systemd unit (system unit as root, user unit otherwise) and enable it")
    .option("--unit-dir <dir>", "write the unit here instead, and leave systemd alone")
    .action(async (options: { unitDir?: string }) => {
      const { stateDir, self } = context();
      const unit = await unitFor(stateDir, options.unitDir);
      await mkdir(unit.dir, { recursive: true, mode: 0o755 });
      // No secret in it: readable, as systemd's units are.
      await writeFile(
        unit.path,
        renderServiceUnit({
          siteName: unit.spec.name,
          stateDir,
          command: self.command,
          args: self.args,
          system: unit.system,
          path: process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        }),
        { mode: 0o644 },
      );
      report(`wrote ${unit.path}`);
      const scope = unit.scope.join(" ");
      if (options.unitDir || !systemdRunning()) {
        if (!options.unitDir)
          report("systemd is not running on this machine (a container?): nothing enabled");
        console.log(
          `to run the site as a service where systemd runs: copy ${unit.path} to ${serviceUnitDir(unit.system, "~")}/, then\n` +
            `  systemctl ${scope ? `${scope} ` : ""}daemon-reload && systemctl ${scope ? `${scope} ` : ""}enable --now ${unit.name}`,
        );
        return;
      }
      await systemctl(unit.scope, ["daemon-reload"]);
      await systemctl(unit.scope, ["enable", unit.name]);
      // The supervisor running now hands the site to the service's, which adopts every process.
      if (await handOver(stateDir))
        report("the running supervisor handed the site over (no process restarted)");
      await systemctl(unit.scope, ["start", unit.name]);
      console.log(
        `${unit.name} enabled and running: systemd starts the site at boot and restarts its supervisor`,
      );
    });
  service
    .command("uninstall")
    .description("disable and remove the site's systemd unit (the site keeps running, supervised by hapress)")
    .option("--unit-dir <dir>", "the folder the unit was written to with --unit-dir")
    .action(async (options: { unitDir?: string }) => {
      const { stateDir } = context();
      const unit = await unitFor(stateDir, options.unitDir);
      if (!options.unitDir && systemdRunning() && existsSync(unit.path)) {
        // Leave the site running: the service's supervisor hands over, `hapress up` adopts the site.
        const handed = await handOver(stateDir);
        await systemctl(unit.scope, ["disable", unit.name]);
        await rm(unit.path, { force: true });
        await systemctl(unit.scope, ["daemon-reload"]);
        if (handed) report("the site keeps running without a supervisor: run 'hapress up' to adopt it");
      } else await rm(unit.path, { force: true });
      console.log(`removed ${unit.path}`);
    });
  service
    .command("status")
    .description("show whether the site's unit is installed, enabled and active")
    .option("--unit-dir <dir>", "the folder the unit was written to with --unit-dir")
    .action(async (options: { unitDir?: string }) => {
      const { stateDir } = context();
      const unit = await unitFor(stateDir, options.unitDir);
      const installed = existsSync(unit.path);
      console.log(`unit: ${unit.name} (${installed ? unit.path : "not installed"})`);
      if (!systemdRunning()) {
        console.log("systemd: not running on this machine");
        return;
      }
      const state = async (verb: string) =>
        (
          await runProgram("systemctl", [...unit.scope, verb, unit.name], { timeoutMs: 10_000 })
        ).stdout.trim();
      console.log(`enabled: ${await state("is-enabled")}   active: ${await state("is-active")}`);
    });
}

import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { Option, type Command } from "commander";
import { LocalFaults, type ChaosTarget, type FaultPort } from "../chaos/faults.js";
import { renderReport, summarizeScenarios, type RunSet, type ScenarioSummary } from "../chaos/report.js";
import { resultLine } from "../chaos/result-line.js";
import { runScenario, type ChaosCredentials, type ScenarioRun } from "../chaos/runner.js";
import { readSavedRuns } from "../chaos/saved-runs.js";
import { pickScenarios, SCENARIOS, type Scenario } from "../chaos/scenarios.js";
import { HapressError, InputError } from "../errors.js";
import type { SelfCommand } from "../platform/local/site-control.js";
import { readJsonFile, statePaths } from "../state/files.js";
import { specSchema } from "../spec/schema.js";
import { loadSecrets } from "../state/secrets.js";
import { sleep } from "../util/process.js";
import { parseCount, parseSeconds, report, type GlobalOptions } from "./options.js";
import { addClusterOptions, targetsCluster, type ClusterTarget } from "./cluster-options.js";

export interface ChaosCommandContext {
  stateDir: string;
  self: SelfCommand;
  globals: GlobalOptions;
}

/** The scenarios `--scenario` and the older `--fault` name. */
function selected(options: { scenario?: string; fault?: string }, target: ChaosTarget): Scenario[] {
  if (options.fault !== undefined) {
    const byFault: Record<string, string> = {
      kill: "primary-kill",
      hang: "primary-hang",
      both: "primary-kill,primary-hang",
    };
    const names = byFault[options.fault];
    if (!names)
      throw new InputError(`--fault ${options.fault}: must be kill, hang or both, for example --fault kill`);
    // Both scenarios run on both targets.
    return pickScenarios(names, target) as Scenario[];
  }
  const picked = pickScenarios(options.scenario ?? "all", target);
  const here = SCENARIOS.filter((s) => s.targets.includes(target)).map((s) => s.name);
  if ("unknown" in picked)
    throw new InputError(
      `--scenario: ${[
        ...(picked.unknown.length ? [`no scenario ${picked.unknown.join(", ")}`] : []),
        ...(picked.elsewhere.length
          ? [`${picked.elsewhere.join(", ")}: not a scenario of the ${target} target`]
          : []),
      ].join(
        "; ",
      )}; the ${target} target's scenarios are ${here.join(", ")} (or all), e.g. --scenario ${here[0] ?? "all"}`,
    );
  return picked;
}

function summaryLine(s: ScenarioSummary): string {
  if (s.skipped) return `${s.scenario}: skipped (${s.skipped})`;
  return `${s.scenario}: ${s.runs} run(s); write outage median ${(s.writeOutageMedianMs / 1000).toFixed(2)} s, max ${(s.writeOutageMaxMs / 1000).toFixed(2)} s; read outage median ${(s.readOutageMedianMs / 1000).toFixed(2)} s; failed requests ${s.failedRequests}; acknowledged writes lost ${s.lost}; most writers at once ${s.mostWriters}; failovers ${s.failovers}; whole again ${s.healedMedianSeconds === null ? "-" : `${s.healedMedianSeconds.toFixed(1)} s`} (median)${s.broken ? `; BROKEN in ${s.broken} run(s)` : ""}`;
}

/** `--from`: saved runs reported again, several targets side by side; a broken run still fails. */
async function reportSaved(
  files: string[],
  options: { scenario?: string; fault?: string; report?: string; json?: boolean },
): Promise<void> {
  if (options.scenario !== undefined || options.fault !== undefined)
    throw new InputError(
      "--from reports runs already made: it runs no scenario, so --scenario and --fault do not go with it",
    );
  if (!options.report && !options.json)
    throw new InputError("--from: say where the report goes, e.g. --report both.html (or --json)");
  const sets = await Promise.all(files.map(readSavedRuns));
  const targets = sets.map((set) => set.target);
  const repeated = targets.find((target, i) => targets.indexOf(target) !== i);
  if (repeated !== undefined)
    throw new InputError(
      `--from: two files hold runs of the target '${repeated}'; give one file per target (${files.join(", ")})`,
    );
  if (options.report) {
    await writeFile(
      options.report,
      renderReport(sets, { generatedAt: new Date().toISOString(), host: hostname() }),
    );
    report(`report: ${options.report}`);
  }
  if (options.json)
    console.log(
      JSON.stringify(
        sets.map((set) => ({ target: set.target, site: set.site, summary: summarizeScenarios(set.runs) })),
        null,
        2,
      ),
    );
  const broken = sets.flatMap((set) =>
    set.runs.filter((r) => r.problems.length > 0).map((r) => `${set.target} ${r.scenario} #${r.run}`),
  );
  if (broken.length > 0)
    throw new HapressError(`a guarantee broke in ${broken.length} saved run(s): ${broken.join(", ")}`);
}

/** The report file, the JSON or the summary lines of a set of runs (made here or by the in-cluster runner). */
async function reportRuns(
  set: RunSet,
  options: { report?: string; json?: boolean },
  log: (line: string) => void,
): Promise<void> {
  const summary = summarizeScenarios(set.runs);
  if (options.report) {
    await writeFile(
      options.report,
      renderReport([set], { generatedAt: new Date().toISOString(), host: hostname() }),
    );
    log(`report: ${options.report}`);
  }
  if (options.json) console.log(JSON.stringify({ ...set, summary }, null, 2));
  else for (const s of summary) console.log(summaryLine(s));
}

/** A run that broke a guarantee makes the command fail (after its report), naming each. */
function throwIfBroken(runs: readonly ScenarioRun[]): void {
  const broken = runs.filter((r) => r.problems.length > 0);
  if (broken.length > 0)
    throw new HapressError(
      `a guarantee broke in ${broken.length} run(s): ${broken.map((r) => `${r.scenario} #${r.run}: ${r.problems.join("; ")}`).join(" | ")}`,
    );
}

/** The fault port of the chosen target, and the accounts the runner's clients use. */
async function openFaults(
  target: ChaosTarget,
  options: ClusterTarget,
  { stateDir, self, globals }: ChaosCommandContext,
  log: (line: string) => void,
): Promise<{
  faults: FaultPort;
  secrets: ChaosCredentials;
  wordpressAdmin: { user: string; password: string } | undefined;
}> {
  if (target === "kubernetes") {
    // Loaded only here: the Kubernetes client costs local commands a second of start-up.
    const { openClusterChaos } = await import("./cluster-site.js");
    const cluster = await openClusterChaos(globals, options, log);
    return { faults: cluster.faults, secrets: cluster.credentials, wordpressAdmin: cluster.wordpressAdmin };
  }
  const faults = new LocalFaults(stateDir, self, log);
  await faults.status();
  const secrets = await loadSecrets(statePaths(stateDir).secrets);
  const spec = await readJsonFile(statePaths(stateDir).spec, specSchema);
  const wordpressAdmin = spec
    ? { user: spec.site.adminUser, password: secrets.wordpressAdminPassword }
    : undefined;
  return { faults, secrets, wordpressAdmin };
}

/** `hapress chaos`: the fault matrix on the running site. */
export function addChaosCommand(program: Command, context: () => ChaosCommandContext): void {
  addClusterOptions(program.command("chaos"))
    .description(
      "run fault scenarios on the running site under traffic; count outages, lost writes and writers at once",
    )
    .option(
      "--scenario <names>",
      `one or more of ${SCENARIOS.map((s) => s.name).join(", ")}, comma-separated, or all`,
    )
    .option("--fault <fault>", "shorthand: kill (primary-kill), hang (primary-hang) or both")
    .option("--runs <count>", "runs per scenario", parseCount(1, 100), 1)
    .option(
      "--saturation-seconds <seconds>",
      "how long the saturation scenario keeps the cores busy",
      parseSeconds,
      60,
    )
    .option("--report <file.html>", "write a self-contained HTML report (matrix and timelines)")
    .option("--json", "print the runs and the matrix as JSON (keep it to report again with --from)")
    .option(
      "--from <files...>",
      "run nothing: report the runs saved with --json, one file per target side by side (e.g. --from local.json kubernetes.json --report both.html)",
    )
    .option(
      "--in-cluster",
      "with --kubernetes: run the scenarios from a pod of the hapress image in the site's namespace (for a machine that reaches only the API, such as a laptop); its runs come back here",
    )
    .addOption(
      new Option("--emit-result", "(the in-cluster runner's own) print the runs as one line").hideHelp(),
    )
    .action(
      async (
        options: ClusterTarget & {
          scenario?: string;
          fault?: string;
          runs: number;
          saturationSeconds: number;
          report?: string;
          json?: boolean;
          from?: string[];
          inCluster?: boolean;
          emitResult?: boolean;
        },
      ) => {
        if (options.scenario !== undefined && options.fault !== undefined)
          throw new InputError("--scenario and --fault: give one of them");
        if (options.from) {
          await reportSaved(options.from, options);
          return;
        }
        const target: ChaosTarget = targetsCluster(options) ? "kubernetes" : "local";
        const scenarios = selected(options, target);
        if (options.inCluster) {
          if (target !== "kubernetes")
            throw new InputError(
              "--in-cluster runs the scenarios from a pod in the site's namespace: it goes with --kubernetes (or --context, --namespace)",
            );
          // Loaded only here, as the other Kubernetes code.
          const { runChaosInCluster } = await import("./chaos-in-cluster.js");
          const set = await runChaosInCluster(
            context().globals,
            options,
            { scenarios: scenarios.map((s) => s.name), runs: options.runs },
            report,
          );
          await reportRuns(set, options, report);
          throwIfBroken(set.runs);
          return;
        }
        // Progress goes to stderr either way: with --json, stdout holds only the JSON.
        const log = report;
        const { faults, secrets, wordpressAdmin } = await openFaults(target, options, context(), log);
        const site = (await faults.status()).site;
        const runs: ScenarioRun[] = [];
        for (const scenario of scenarios)
          for (let run = 1; run <= options.runs; run++) {
            const result = await runScenario(scenario, run, {
              faults,
              secrets,
              wordpressAdmin,
              log,
              sleep,
              saturationMs: options.saturationSeconds * 1000,
            });
            runs.push(result);
            if (!result.skipped)
              log(
                `${scenario.name} #${run}: ${result.primaryBefore ?? "-"} -> ${result.primaryAfter ?? "-"}, write outage ${(result.writes.longestOutageMs / 1000).toFixed(2)} s, ${result.acknowledged} acknowledged, ${result.lost} lost, posts ${result.postsAcknowledged} acknowledged, ${result.postsLost} lost, post outage ${(result.posts.longestOutageMs / 1000).toFixed(2)} s, read outage ${(result.reads.longestOutageMs / 1000).toFixed(2)} s, ${result.failovers} failover(s), whole again after ${result.healedSeconds === null ? "-" : `${result.healedSeconds.toFixed(1)} s`}, most writers ${result.mostWriters}${result.problems.length ? `; BROKEN: ${result.problems.join("; ")}` : ""}`,
              );
            if (result.skipped) break;
          }
        const set: RunSet = { target, site, runs };
        // Inside the in-cluster runner: the runs go back to the command that started it, on one line.
        if (options.emitResult) console.log(resultLine(set));
        else await reportRuns(set, options, log);
        throwIfBroken(runs);
      },
    );
}

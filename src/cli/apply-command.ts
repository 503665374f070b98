import type { Command } from "commander";
import { dirname, join, resolve } from "node:path";
import { InputError } from "../errors.js";
import { applySite } from "../platform/kubernetes/apply.js";
import { loadKubeConfig } from "../platform/kubernetes/cluster.js";
import { prepareManifests } from "../platform/kubernetes/render-command.js";
import { loadSpec } from "../spec/load.js";
import { sleep } from "../util/process.js";
import { parseSeconds, report, type GlobalOptions } from "./options.js";

/** `hapress apply`: the site on a Kubernetes cluster. */
export function registerApplyCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command("apply")
    .description(
      "deploy the site to Kubernetes: server-side apply in order, prune what the spec dropped, wait until it works",
    )
    .option("--context <name>", "kubeconfig context (default: the current one)")
    .option("--namespace <name>", "the site's namespace (default: kubernetes.namespace of the spec)")
    .option("--dry-run <mode>", "server: the API server checks everything, nothing is stored")
    .option("--timeout <seconds>", "how long to wait for the site to work", parseSeconds, 600)
    .option(
      "--secrets <file>",
      "secrets file, read back and completed, never rotated (default: hapress-secrets.json beside the spec)",
    )
    .action(
      async (options: {
        context?: string;
        namespace?: string;
        dryRun?: string;
        timeout: number;
        secrets?: string;
      }) => {
        if (options.dryRun !== undefined && options.dryRun !== "server") {
          throw new InputError(`--dry-run ${options.dryRun}: only --dry-run=server is supported`);
        }
        if (
          options.namespace !== undefined &&
          !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(options.namespace)
        ) {
          throw new InputError(
            `--namespace ${JSON.stringify(options.namespace)}: must be a DNS label (lower-case letters, digits, '-'), e.g. --namespace shop`,
          );
        }
        const g = globals();
        const file = g.file ?? "hapress.yaml";
        const loaded = await loadSpec(file, { explicit: g.file !== undefined });
        const spec = options.namespace
          ? { ...loaded, kubernetes: { ...loaded.kubernetes, namespace: options.namespace } }
          : loaded;
        // The cluster first: a wrong context fails before any secret is generated or object sent.
        const kc = loadKubeConfig({ context: options.context });
        const objects = await prepareManifests({
          spec,
          specSource: file,
          secretsFile: options.secrets ?? join(dirname(resolve(file)), "hapress-secrets.json"),
          report,
        });
        report(
          `applying ${objects.length} objects of site ${spec.name} to namespace ${spec.kubernetes.namespace} (context ${kc.getCurrentContext()})${options.dryRun ? ", server-side dry run" : ""}`,
        );
        const result = await applySite({
          kc,
          objects,
          site: spec.name,
          namespace: spec.kubernetes.namespace,
          dryRun: options.dryRun === "server",
          timeoutMs: options.timeout * 1000,
          report,
          sleep,
        });
        report(
          result.changed.length === 0 && result.pruned.length === 0
            ? `nothing changed: the cluster already matches the spec (${result.unchanged} objects)`
            : `${result.changed.length} changed, ${result.unchanged} unchanged, ${result.pruned.length} pruned${options.dryRun ? " (dry run: nothing stored)" : ""}`,
        );
      },
    );
}

import type { Command } from "commander";
import { InputError } from "../errors.js";
import { checkNamespace } from "./cluster-options.js";
import { parseSeconds, type GlobalOptions } from "./options.js";

/** `hapress apply`: the site on a Kubernetes cluster. */
export function registerApplyCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command("apply")
    .description(
      "deploy the site to Kubernetes: every object checked by the API server first (all or nothing), server-side apply in order, prune what the spec dropped, wait until it works",
    )
    .option("--context <name>", "kubeconfig context (default: the current one)")
    .option("--namespace <name>", "the site's namespace (default: kubernetes.namespace of the spec)")
    .option("--dry-run <mode>", "server: the API server checks everything, nothing is stored")
    .option("--diff", "print what would change, field by field (a server-side dry run), and exit")
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
        diff?: boolean;
        timeout: number;
        secrets?: string;
      }) => {
        if (options.dryRun !== undefined && options.dryRun !== "server") {
          throw new InputError(`--dry-run ${options.dryRun}: only --dry-run=server is supported`);
        }
        checkNamespace(options.namespace);
        // The cluster is loaded before the secrets: a wrong context fails before anything is generated.
        await (
          await import("./cluster-site.js")
        ).clusterApply(
          globals(),
          { context: options.context, namespace: options.namespace },
          {
            secretsFile: options.secrets,
            dryRun: options.dryRun === "server" || options.diff === true,
            diff: options.diff === true,
            timeoutMs: options.timeout * 1000,
          },
        );
      },
    );
}

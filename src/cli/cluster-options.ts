import type { Command } from "commander";
import { InputError } from "../errors.js";

// The options that choose the Kubernetes target, apart from the code that talks to a cluster: that
// code loads the Kubernetes client (about a second of start-up), which local commands never need.

/** The options that point a command at a site on Kubernetes instead of the local one. */
export interface ClusterTarget {
  kubernetes?: boolean;
  context?: string;
  namespace?: string;
}

export function addClusterOptions(command: Command): Command {
  return command
    .option("--kubernetes", "the site on Kubernetes (as deployed by 'hapress apply'), not the local one")
    .option("--context <name>", "kubeconfig context (implies --kubernetes; default: the current one)")
    .option(
      "--namespace <name>",
      "the site's namespace (implies --kubernetes; default: kubernetes.namespace of the spec)",
    );
}

export function targetsCluster(target: ClusterTarget): boolean {
  return target.kubernetes === true || target.context !== undefined || target.namespace !== undefined;
}

export function checkNamespace(namespace: string | undefined): void {
  if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new InputError(
      `--namespace ${JSON.stringify(namespace)}: must be a DNS label (lower-case letters, digits, '-'), e.g. --namespace shop`,
    );
  }
}

import { ApiException, KubeConfig } from "@kubernetes/client-node";
import { HapressError, InputError } from "../../errors.js";

export interface ClusterOptions {
  /** A kubeconfig context; the file's current context when absent. */
  context?: string;
}

/**
 * Cluster access as kubectl finds it: $KUBECONFIG, then ~/.kube/config, then the pod's service account
 * (in-cluster). A named context that the kubeconfig lacks is an error listing the ones it has.
 */
export function loadKubeConfig(options: ClusterOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (error) {
    throw new HapressError("cannot load a kubeconfig ($KUBECONFIG, ~/.kube/config or in-cluster)", {
      cause: error,
    });
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new InputError(
        `no context '${options.context}' in the kubeconfig; it has: ${known.join(", ") || "none"} (e.g. --context ${known[0] ?? "kind-kind"})`,
      );
    }
    kc.setCurrentContext(options.context);
  }
  // With nothing found, the library falls back to an unauthenticated http://localhost:8080: never that.
  const server = kc.getCurrentCluster()?.server ?? "";
  if (!kc.getCurrentCluster() || server === "http://localhost:8080") {
    throw new HapressError(
      "no cluster configured: set KUBECONFIG, create ~/.kube/config, or run inside a pod with a service account",
    );
  }
  return kc;
}

/** The HTTP status of a failed API call, or null when the call never got an answer. */
export function apiStatus(error: unknown): number | null {
  return error instanceof ApiException ? (error as ApiException<unknown>).code : null;
}

/** A readable cause for a failed API call: the server's own message when it gave one. */
export function apiMessage(error: unknown): string {
  if (error instanceof ApiException) {
    const body = (error as ApiException<unknown>).body;
    let message = typeof body === "string" ? body : JSON.stringify(body);
    try {
      const parsed = (typeof body === "string" ? JSON.parse(body) : body) as { message?: unknown };
      if (typeof parsed.message === "string") message = parsed.message;
    } catch {
      // Not JSON: the raw body is the message.
    }
    return `HTTP ${(error as ApiException<unknown>).code}: ${message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

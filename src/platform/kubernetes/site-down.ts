import {
  CoreV1Api,
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { HapressError } from "../../errors.js";
import { PRUNABLE_KINDS, siteSelector, type ClusterObject } from "./apply-plan.js";
import { listSiteObjects } from "./apply.js";
import { STATE_CONFIGMAP } from "./cluster-state.js";
import { apiMessage, apiStatus } from "./cluster.js";

/** What `down` deletes in the order it deletes it: the workloads first, so no pod outlives its config. */
const DELETE_ORDER = [
  "Deployment",
  "CronJob",
  "Job",
  "StatefulSet",
  "PodDisruptionBudget",
  "Ingress",
  "Service",
  "NetworkPolicy",
  "RoleBinding",
  "Role",
  "ServiceAccount",
  "ConfigMap",
  "Secret",
  "StorageClass",
  "PersistentVolumeClaim",
];

/** The kinds `down` lists: everything `apply` may prune, plus the data `--volumes` deletes. */
const DOWN_KINDS = [...PRUNABLE_KINDS, { apiVersion: "v1", kind: "PersistentVolumeClaim", namespaced: true }];

/**
 * Splits the site's objects into what `down` deletes and what it keeps (pure). Without `volumes` the
 * site's data survives: the volumes, the credentials that open them and the primary record that says
 * which volume is the most advanced, so the next `apply` brings the same site back. The backup
 * claim is never deleted (`kubectl delete pvc` does it, deliberately).
 */
export function downPlan(
  existing: ClusterObject[],
  volumes: boolean,
): { remove: ClusterObject[]; keep: ClusterObject[] } {
  const isData = (o: ClusterObject) =>
    o.kind === "PersistentVolumeClaim" ||
    o.kind === "Secret" ||
    (o.kind === "ConfigMap" && o.metadata?.name === STATE_CONFIGMAP);
  const ours = existing.filter(
    (o) => (o.metadata?.ownerReferences ?? []).length === 0 || o.kind === "PersistentVolumeClaim",
  );
  // Backups exist for the day the site is gone: their claim outlives even `down --volumes`.
  const isBackups = (o: ClusterObject) =>
    o.kind === "PersistentVolumeClaim" && o.metadata?.labels?.["app.kubernetes.io/component"] === "backup";
  const remove = ours
    .filter((o) => (volumes || !isData(o)) && !isBackups(o))
    .sort((a, b) => DELETE_ORDER.indexOf(a.kind ?? "") - DELETE_ORDER.indexOf(b.kind ?? ""));
  return { remove, keep: ours.filter((o) => !remove.includes(o)) };
}

export interface DownOptions {
  kc: KubeConfig;
  site: string;
  namespace: string;
  volumes: boolean;
  timeoutMs: number;
  report: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
}

function describe(object: ClusterObject): string {
  return `${object.kind ?? "?"}/${object.metadata?.name ?? "?"}`;
}

/**
 * `hapress down` on Kubernetes: deletes the site's objects (found by its instance label, so nothing of
 * anyone else's), waits until its pods are gone, and keeps its data unless `volumes`. The namespace
 * stays: it may hold more than this site.
 */
/** The controller Deployment's name (render/controller.ts). */
const CONTROLLER_NAME = "hapress-controller";

export async function downSite(options: DownOptions): Promise<{ removed: string[]; kept: string[] }> {
  const { kc, namespace, report } = options;
  const api = KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  let existing: ClusterObject[];
  try {
    existing = await listSiteObjects(api, DOWN_KINDS, options.site, namespace);
  } catch (error) {
    throw new HapressError(
      `cannot list the site's objects in the cluster of context '${kc.getCurrentContext()}': ${apiMessage(error)}; nothing was deleted`,
      { cause: error },
    );
  }
  const plan = downPlan(existing, options.volumes);
  const removed: string[] = [];
  const deadline = Date.now() + options.timeoutMs;
  // The controllers go first, and are gone before the database pods stop: a controller that saw the
  // primary's pod being deleted before the others' would fail over to a replica about to stop too.
  const controllers = plan.remove.filter(
    (o) => o.kind === "Deployment" && o.metadata?.name === CONTROLLER_NAME,
  );
  for (const object of controllers) {
    try {
      await api.delete(object as KubernetesObject, undefined, undefined, undefined, undefined, "Foreground");
    } catch (error) {
      if (apiStatus(error) !== 404)
        throw new HapressError(`${describe(object)}: cannot delete it: ${apiMessage(error)}`, {
          cause: error,
        });
    }
  }
  for (;;) {
    if (controllers.length === 0) break;
    const pods = await core.listNamespacedPod({
      namespace,
      labelSelector: `${siteSelector(options.site)},app.kubernetes.io/component=controller`,
    });
    if (pods.items.length === 0 || Date.now() >= deadline) break;
    await options.sleep(500);
  }
  for (const object of plan.remove) {
    try {
      await api.delete(object as KubernetesObject, undefined, undefined, undefined, undefined, "Background");
    } catch (error) {
      if (apiStatus(error) !== 404)
        throw new HapressError(`${describe(object)}: cannot delete it: ${apiMessage(error)}`, {
          cause: error,
        });
    }
    removed.push(describe(object));
    report(`  ${describe(object)} deleted`);
  }
  // Bounded wait: every pod of the site gone, so a following `apply` never meets the old ones.
  let left: string[] = [];
  for (;;) {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: siteSelector(options.site) });
    left = pods.items.map((p) => p.metadata?.name ?? "?");
    if (left.length === 0 || Date.now() >= deadline) break;
    await options.sleep(1000);
  }
  if (left.length > 0)
    throw new HapressError(
      `timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for the site's pods to stop: ${left.join(", ")} still exist`,
    );
  return { removed, kept: plan.keep.map(describe) };
}

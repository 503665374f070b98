// The last part of `hapress apply`: wait, step by step, until the applied site works.
import { AppsV1Api, BatchV1Api, CoordinationV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { HapressError } from "../../errors.js";
import type { ApplyOptions } from "./apply.js";
import { apiMessage } from "./cluster.js";
import { listDatabasePods } from "./database-pods.js";
import { ARCHIVER_NAME } from "./render/backup.js";
import { INSTALL_JOB_PREFIX } from "./render/wordpress-jobs.js";
import { ROLE_LABEL } from "./render.js";

interface WaitStep {
  what: string;
  /** null when done; otherwise the object waited for and its last condition, for a timeout message. */
  check: () => Promise<string | null>;
}

function podCondition(pod: V1Pod): string {
  const waiting = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
    .map((c) => (c.state?.waiting ? `${c.name} ${c.state.waiting.reason ?? "waiting"}` : null))
    .find((w) => w !== null);
  if (waiting) return waiting;
  const notReady = (pod.status?.conditions ?? []).find((c) => c.status !== "True");
  if (notReady) return `${notReady.type} ${notReady.status}${notReady.reason ? ` (${notReady.reason})` : ""}`;
  return pod.status?.phase ?? "unknown";
}

function steps(options: ApplyOptions): WaitStep[] {
  const { kc, namespace } = options;
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const rendered = (kind: string, name: string) =>
    options.objects.some((o) => o.kind === kind && o.metadata.name === name);
  const databasePods = () => listDatabasePods(core, namespace, options.site);
  let lastLeaseVersion: string | null = null;
  const list: WaitStep[] = [
    {
      what: "database pods ready",
      check: async () => {
        const sts = await apps.readNamespacedStatefulSet({ name: "mysql", namespace });
        const wanted = sts.spec?.replicas ?? 0;
        const ready = sts.status?.readyReplicas ?? 0;
        if (ready >= wanted) return null;
        const pods = await databasePods();
        const stuck = pods.find(
          (p) => !(p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
        );
        return `StatefulSet ${namespace}/mysql: ${ready}/${wanted} ready${stuck ? `; pod ${stuck.metadata?.name}: ${podCondition(stuck)}` : `; pod mysql-${ready} not created yet`}`;
      },
    },
    {
      what: "a controller leads",
      check: async () => {
        const lease = await coordination
          .readNamespacedLease({ name: "hapress-controller", namespace })
          .catch(() => null);
        const holder = lease?.spec?.holderIdentity;
        const version = lease?.metadata?.resourceVersion ?? null;
        // Held, and renewed since the last look: a live leader, whatever the clocks say.
        const live = Boolean(holder) && lastLeaseVersion !== null && version !== lastLeaseVersion;
        lastLeaseVersion = version;
        return live
          ? null
          : `Lease ${namespace}/hapress-controller: ${holder ? `held by ${holder}, not renewed yet` : "no holder"} (Deployment hapress-controller)`;
      },
    },
    {
      what: "the primary labelled",
      check: async () => {
        const pods = await databasePods();
        const primaries = pods.filter((p) => p.metadata?.labels?.[ROLE_LABEL] === "primary");
        if (primaries.length === 1) return null;
        return `pods labelled ${ROLE_LABEL}=primary: ${primaries.map((p) => p.metadata?.name).join(", ") || "none"} (the controller labels exactly one)`;
      },
    },
  ];
  const installJob = options.objects.find(
    (o) => o.kind === "Job" && o.metadata.name.startsWith(INSTALL_JOB_PREFIX),
  )?.metadata.name;
  if (installJob) {
    list.push({
      what: "WordPress installed",
      check: async () => {
        const job = await batch.readNamespacedJob({ name: installJob, namespace });
        if ((job.status?.succeeded ?? 0) > 0) return null;
        const condition = (job.status?.conditions ?? []).at(-1);
        return `Job ${namespace}/${installJob}: ${condition ? `${condition.type} ${condition.reason ?? ""} ${condition.message ?? ""}`.trim() : `${job.status?.active ?? 0} active, ${job.status?.failed ?? 0} failed`}`;
      },
    });
  }
  if (rendered("Deployment", "wordpress")) {
    list.push({
      what: "WordPress available",
      check: async () => {
        const deployment = await apps.readNamespacedDeployment({ name: "wordpress", namespace });
        const available = (deployment.status?.conditions ?? []).find((c) => c.type === "Available");
        if (
          available?.status === "True" &&
          (deployment.status?.updatedReplicas ?? 0) >= (deployment.spec?.replicas ?? 0)
        )
          return null;
        return `Deployment ${namespace}/wordpress: ${deployment.status?.availableReplicas ?? 0}/${deployment.spec?.replicas ?? 0} available${available?.message ? ` (${available.message})` : ""}`;
      },
    });
  }
  if (rendered("Deployment", ARCHIVER_NAME)) {
    list.push({
      what: "the binary-log archive streaming",
      check: async () => {
        const deployment = await apps.readNamespacedDeployment({ name: ARCHIVER_NAME, namespace });
        if ((deployment.status?.readyReplicas ?? 0) >= 1) return null;
        return `Deployment ${namespace}/${ARCHIVER_NAME}: not ready (it is ready once it streams the primary's binary logs onto claim ${options.objects.find((o) => o.kind === "PersistentVolumeClaim" && o.metadata.labels?.["app.kubernetes.io/component"] === "backup")?.metadata.name ?? "of kubernetes.backup.claim"})`;
      },
    });
  }
  return list;
}

/** Waits for each step in turn within one deadline; a timeout names the object and its last state. */
export async function waitUntilWorking(options: ApplyOptions): Promise<void> {
  const now = options.now ?? (() => Date.now());
  const started = now();
  const deadline = started + options.timeoutMs;
  for (const step of steps(options)) {
    let last: string | null = "not checked yet";
    while (now() < deadline) {
      try {
        last = await step.check();
      } catch (error) {
        last = apiMessage(error);
      }
      if (last === null) break;
      await options.sleep(1000);
    }
    if (last !== null) {
      throw new HapressError(
        `timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for ${step.what}: ${last}`,
      );
    }
    options.report(`✓ ${step.what} (${((now() - started) / 1000).toFixed(0)} s)`);
  }
}

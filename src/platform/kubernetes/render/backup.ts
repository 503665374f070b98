// Backups in the cluster: a volume for them, the backup CronJob (the same backup as `hapress backup`,
// read from a replica's agent), and the binary-log archiver (a one-replica Deployment following the
// recorded primary). Restoring is `hapress restore` on a machine that mounts the volume (README).
import { InputError } from "../../../errors.js";
import { SUPERVISOR_METRICS_PORT } from "../../../topology/topology.js";
import { STATE_CONFIGMAP } from "../cluster-state.js";
import { contentStorageClass } from "./storage.js";
import {
  type Context,
  type K8sObject,
  labels,
  metadata,
  pdb,
  resources,
  scrapeAnnotations,
  secretEnv,
  selector,
} from "./common.js";

export const BACKUP_NAME = "hapress-backup";
export const ARCHIVER_NAME = "hapress-binlog-archiver";
export const SPEC_CONFIGMAP = "hapress-spec";
export const ARCHIVER_HEALTH_PORT = 8082;
const BACKUP_MOUNT = "/backups";
const SPEC_MOUNT = "/etc/hapress";
const CONTENT_MOUNT = "/content";
const SCRATCH_MOUNT = "/var/tmp/hapress";

/**
 * The CronJob's schedule: the spec's (5 fields, UTC: the CronJob's timeZone says so), or none, and
 * then the CronJob is suspended (a backup now: `kubectl create job --from=cronjob/hapress-backup`).
 */
export function cronJobSchedule(schedule: string | undefined): { schedule: string; suspend: boolean } {
  if (schedule === undefined) return { schedule: "0 3 * * *", suspend: true };
  if (schedule.trim().split(/\s+/).length !== 5 && !schedule.trim().startsWith("@"))
    throw new InputError(
      `backup.schedule: ${JSON.stringify(schedule)} has a seconds field, which a Kubernetes CronJob cannot run; give 5 fields, e.g. backup:\n  schedule: "0 3 * * *"`,
    );
  return { schedule: schedule.trim(), suspend: false };
}

/**
 * The backup claim's class: the spec's, else the content's shared class when both want ReadWriteMany
 * (the class the user already gave for volumes many pods mount), else the cluster's default.
 */
export function backupStorageClass(ctx: Context): string | undefined {
  const b = ctx.spec.kubernetes.backup;
  if (b.storageClass) return b.storageClass;
  if (b.accessMode === "ReadWriteMany" && ctx.spec.wordpress.replicas > 0) return contentStorageClass(ctx);
  return undefined;
}

/** The claims the spec says exist already (the render names them, never makes them). */
export function externalClaims(spec: Context["spec"]): string[] {
  return spec.kubernetes.backup.createClaim ? [] : [spec.kubernetes.backup.claim];
}

/** The pod both workloads share: the hapress image, its service account, the backup volume. */
function podSpec(ctx: Context, container: Record<string, unknown>, extraVolumes: Record<string, unknown>[]) {
  return {
    serviceAccountName: BACKUP_NAME,
    automountServiceAccountToken: true,
    containers: [
      {
        image: ctx.spec.kubernetes.images.hapress,
        resources: resources(ctx.spec.kubernetes.resources.agent),
        // Root stays read-only: temporary files (mariadb-binlog's password file) go to a scratch
        // volume, named by TMPDIR (not mounted over /tmp, which may hold more than ours).
        securityContext: { readOnlyRootFilesystem: true },
        ...container,
      },
    ],
    volumes: [
      { name: "backups", persistentVolumeClaim: { claimName: ctx.spec.kubernetes.backup.claim } },
      { name: "tmp", emptyDir: {} },
      ...extraVolumes,
    ],
  };
}

export function backupObjects(ctx: Context): K8sObject[] {
  const b = ctx.spec.kubernetes.backup;
  const withContent = ctx.spec.wordpress.replicas > 0;
  const { schedule, suspend } = cronJobSchedule(ctx.spec.backup.schedule);
  const objects: K8sObject[] = [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: metadata(ctx, SPEC_CONFIGMAP, "backup"),
      // The spec a backup records (spec.json), so `hapress restore` can build the site again; without
      // the local target's settings, which mean nothing here (a restore takes the defaults).
      data: { "spec.json": `${JSON.stringify({ ...ctx.spec, local: undefined }, null, 2)}\n` },
    },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: metadata(ctx, BACKUP_NAME, "backup") },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: metadata(ctx, BACKUP_NAME, "backup"),
      rules: [
        // Which pod is a ready replica (the backup's source) and where the primary is (the archive's).
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: [STATE_CONFIGMAP] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: metadata(ctx, BACKUP_NAME, "backup"),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: BACKUP_NAME },
      subjects: [{ kind: "ServiceAccount", name: BACKUP_NAME, namespace: ctx.namespace }],
    },
    ...(b.createClaim
      ? [
          {
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            metadata: metadata(ctx, b.claim, "backup"),
            spec: {
              accessModes: [b.accessMode],
              ...(backupStorageClass(ctx) ? { storageClassName: backupStorageClass(ctx) } : {}),
              resources: { requests: { storage: b.size } },
            },
          },
        ]
      : []),
    {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: metadata(ctx, BACKUP_NAME, "backup"),
      spec: {
        schedule,
        timeZone: "Etc/UTC",
        suspend,
        // One backup at a time; a missed occurrence more than 10 minutes late is skipped, not stacked.
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: 600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            // Retries over about five minutes (10, 20, 40, 80, 160 s apart): a donor's agent streams one
            // copy at a time and refuses a second while a replica is being cloned from it.
            backoffLimit: 5,
            activeDeadlineSeconds: 6 * 3600,
            template: {
              metadata: { labels: labels(ctx, "backup") },
              spec: {
                restartPolicy: "Never",
                ...podSpec(
                  ctx,
                  {
                    name: "backup",
                    resources: resources(ctx.spec.kubernetes.resources.backup),
                    args: [
                      // The whole chain of causes in the Job's log: nobody can rerun a failed pod.
                      "--debug",
                      "agent",
                      "cluster-backup",
                      "--namespace",
                      ctx.namespace,
                      "--spec-file",
                      `${SPEC_MOUNT}/spec.json`,
                      "--to",
                      BACKUP_MOUNT,
                      ...(withContent ? ["--content", CONTENT_MOUNT] : []),
                    ],
                    env: [
                      { name: "TMPDIR", value: SCRATCH_MOUNT },
                      secretEnv("HAPRESS_CLONE_TOKEN", "clone-token"),
                    ],
                    volumeMounts: [
                      { name: "backups", mountPath: BACKUP_MOUNT },
                      { name: "tmp", mountPath: SCRATCH_MOUNT },
                      { name: "spec", mountPath: SPEC_MOUNT, readOnly: true },
                      ...(withContent ? [{ name: "content", mountPath: CONTENT_MOUNT, readOnly: true }] : []),
                    ],
                  },
                  [
                    { name: "spec", configMap: { name: SPEC_CONFIGMAP } },
                    ...(withContent
                      ? [
                          {
                            name: "content",
                            persistentVolumeClaim: { claimName: "wordpress-content", readOnly: true },
                          },
                        ]
                      : []),
                  ],
                ),
              },
            },
          },
        },
      },
    },
  ];
  if (ctx.spec.backup.archiveBinlogs)
    objects.push(
      // A drain may stop it: the archive resumes from its last file (the budget says so to tooling).
      pdb(ctx, ARCHIVER_NAME, "archive", 1),
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: metadata(ctx, ARCHIVER_NAME, "archive"),
        spec: {
          // One writer per segment: the old pod is gone before the new one starts.
          replicas: 1,
          strategy: { type: "Recreate" },
          selector: { matchLabels: selector(ctx, "archive") },
          template: {
            metadata: {
              labels: labels(ctx, "archive"),
              annotations: scrapeAnnotations(SUPERVISOR_METRICS_PORT),
            },
            spec: podSpec(
              ctx,
              {
                name: "archiver",
                // The Kubernetes client beside mariadb-binlog writing the logs it catches up on (their
                // pages count against the container): OOM-killed at the agent's 96Mi in a crash loop
                // after a chaos run's writes (found by chaos --kubernetes); the backup Job's 256Mi.
                resources: resources(ctx.spec.kubernetes.resources.backup),
                args: [
                  "agent",
                  "cluster-archive",
                  "--namespace",
                  ctx.namespace,
                  "--site",
                  ctx.spec.name,
                  "--to",
                  `${BACKUP_MOUNT}/binlogs`,
                  "--health-port",
                  String(ARCHIVER_HEALTH_PORT),
                  // Backups and the archive in Prometheus terms, as the local supervisor serves them.
                  "--metrics-port",
                  String(SUPERVISOR_METRICS_PORT),
                  ...(ctx.spec.backup.schedule ? ["--schedule", ctx.spec.backup.schedule] : []),
                ],
                env: [
                  // The health endpoints listen on the pod's address only.
                  { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                  { name: "TMPDIR", value: SCRATCH_MOUNT },
                  secretEnv("HAPRESS_REPLICATION_PASSWORD", "replication-password"),
                ],
                ports: [
                  { name: "health", containerPort: ARCHIVER_HEALTH_PORT },
                  { name: "metrics", containerPort: SUPERVISOR_METRICS_PORT },
                ],
                // Ready while it streams the recorded primary's logs (not during a failover).
                readinessProbe: { httpGet: { path: "/readyz", port: "health" }, periodSeconds: 5 },
                livenessProbe: {
                  httpGet: { path: "/healthz", port: "health" },
                  periodSeconds: 10,
                  failureThreshold: 6,
                },
                volumeMounts: [
                  { name: "backups", mountPath: BACKUP_MOUNT },
                  { name: "tmp", mountPath: SCRATCH_MOUNT },
                ],
              },
              [],
            ),
          },
        },
      },
    );
  return objects;
}

import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { CronJob, Job } from "kubernetes-models/batch/v1";
import { NetworkPolicy, Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { StorageClass } from "kubernetes-models/storage.k8s.io/v1";
import {
  ConfigMap,
  Namespace,
  PersistentVolumeClaim,
  Secret,
  Service,
  ServiceAccount,
} from "kubernetes-models/v1";
import { PodMonitor, PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { ROLE_LABEL, type K8sObject } from "./render.js";
import { podTemplateOf } from "./render/common.js";
import { restrictedProblems } from "./render/pod-security.js";

type Validatable = { validate(): void };
type ModelClass = new (data: never) => Validatable;

/** The current API versions we render, with the official schema of each kind (kubernetes-models). */
const MODELS: Record<string, ModelClass> = {
  "v1/Namespace": Namespace,
  "v1/Secret": Secret,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "apps/v1/StatefulSet": StatefulSet,
  "apps/v1/Deployment": Deployment,
  "batch/v1/Job": Job,
  "batch/v1/CronJob": CronJob,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "networking.k8s.io/v1/Ingress": Ingress,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "storage.k8s.io/v1/StorageClass": StorageClass,
  // Prometheus Operator kinds (rendered when kubernetes.monitoring asks), from the same project's schemas.
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};

/** API versions that Kubernetes removed (the tutorial used apps/v1beta1). */
const REMOVED_API_VERSIONS = [
  "apps/v1beta1",
  "apps/v1beta2",
  "extensions/v1beta1",
  "policy/v1beta1",
  "batch/v1beta1",
  "networking.k8s.io/v1beta1",
  "rbac.authorization.k8s.io/v1beta1",
  "storage.k8s.io/v1beta1",
];

const RECOMMENDED_LABELS = [
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/component",
  "app.kubernetes.io/part-of",
  "app.kubernetes.io/managed-by",
];

function describe(object: K8sObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

/** Validates each object against the official OpenAPI schema of its kind. */
export function schemaProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const object of objects) {
    if (REMOVED_API_VERSIONS.includes(object.apiVersion)) {
      problems.push(`${describe(object)}: apiVersion ${object.apiVersion} was removed from Kubernetes`);
      continue;
    }
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    if (!Model) {
      problems.push(`${describe(object)}: no schema for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      new Model(object as never).validate();
    } catch (error) {
      problems.push(`${describe(object)}: ${(error as Error).message}`);
    }
  }
  return problems;
}

interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: {
    name: string;
    valueFrom?: {
      secretKeyRef?: { name: string; key: string };
      configMapKeyRef?: { name: string; key: string };
    };
  }[];
  resources?: { requests?: Record<string, string> };
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  volumeMounts?: { name: string; subPath?: string }[];
}

interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: {
    name: string;
    configMap?: { name: string };
    persistentVolumeClaim?: { claimName: string };
    secret?: { secretName: string; items?: { key: string; path: string }[] };
  }[];
}

interface PodTemplate {
  owner: K8sObject;
  labels: Record<string, string>;
  spec: PodSpec;
  longRunning: boolean;
  claimTemplates: string[];
}

function podTemplates(objects: K8sObject[]): PodTemplate[] {
  const templates: PodTemplate[] = [];
  for (const object of objects) {
    const template = podTemplateOf<PodSpec>(object);
    if (!template) continue;
    const claims = (
      ((object.spec as Record<string, unknown>).volumeClaimTemplates as
        { metadata: { name: string } }[] | undefined) ?? []
    ).map((c) => c.metadata.name);
    templates.push({
      owner: object,
      labels: template.labels,
      spec: template.spec,
      longRunning: object.kind === "Deployment" || object.kind === "StatefulSet",
      claimTemplates: claims,
    });
  }
  return templates;
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Our own invariants over the whole set: references resolve, nothing insecure, nothing missing. */
/**
 * `externalClaims`: claims the spec says exist already (kubernetes.backup.createClaim false), which
 * pods may name without the render making them.
 */
export function invariantProblems(objects: K8sObject[], externalClaims: readonly string[] = []): string[] {
  const problems: string[] = [];
  const templates = podTemplates(objects);
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const dataKeys = (object: K8sObject) =>
    new Set(
      Object.keys({ ...(object.data as object | undefined), ...(object.stringData as object | undefined) }),
    );

  for (const object of objects) {
    const present = object.metadata.labels ?? {};
    const missing = RECOMMENDED_LABELS.filter((l) => !present[l]);
    if (missing.length > 0) problems.push(`${describe(object)}: missing labels ${missing.join(", ")}`);
  }

  for (const service of byKind("Service")) {
    const spec = service.spec as {
      selector?: Record<string, string>;
      ports: { name?: string; targetPort?: string | number }[];
    };
    // The primary's role label is set at run time by the controller; every other label must match a template.
    const selector = { ...spec.selector };
    if (selector[ROLE_LABEL] === "primary") delete selector[ROLE_LABEL];
    const targets = templates.filter((t) => t.longRunning && matches(selector, t.labels));
    if (targets.length === 0) problems.push(`${describe(service)}: its selector matches no pod template`);
    for (const port of spec.ports) {
      if (typeof port.targetPort !== "string") continue;
      const named = targets.some((t) =>
        t.spec.containers.some((c) => c.ports?.some((p) => p.name === port.targetPort)),
      );
      if (!named)
        problems.push(
          `${describe(service)}: targetPort '${port.targetPort}' is no container port of its pods`,
        );
    }
  }

  for (const secret of byKind("Secret")) {
    for (const [key, value] of Object.entries(
      (secret.stringData as Record<string, string> | undefined) ?? {},
    )) {
      if (!value) problems.push(`${describe(secret)}: key '${key}' is empty`);
    }
  }

  // Network least privilege: in every namespace with pods, a default deny, and an allow policy
  // naming every pod.
  const policies = byKind("NetworkPolicy").map((p) => ({
    namespace: p.metadata.namespace,
    selector:
      (p.spec as { podSelector: { matchLabels?: Record<string, string> } }).podSelector.matchLabels ?? {},
  }));
  const podNamespaces = new Set(templates.map((t) => t.owner.metadata.namespace));
  for (const namespace of podNamespaces) {
    if (!policies.some((p) => p.namespace === namespace && Object.keys(p.selector).length === 0))
      problems.push(
        `no default-deny NetworkPolicy (an empty podSelector) for the namespace ${namespace ?? "?"}`,
      );
  }
  for (const template of templates) {
    const covered = policies.some(
      (p) =>
        p.namespace === template.owner.metadata.namespace &&
        Object.keys(p.selector).length > 0 &&
        matches(p.selector, template.labels),
    );
    if (!covered) problems.push(`${describe(template.owner)}: no NetworkPolicy allows its traffic`);
  }

  for (const template of templates) {
    for (const problem of restrictedProblems(template.owner))
      problems.push(`${describe(template.owner)}: not restricted: ${problem}`);
  }

  for (const template of templates) {
    // Least privilege: only the controller and the backup pods (which read the pods and the primary
    // record) talk to the API server; no other pod carries a token.
    const automount = (template.spec as { automountServiceAccountToken?: boolean })
      .automountServiceAccountToken;
    const apiClient = ["controller", "backup", "archive"].includes(
      template.labels["app.kubernetes.io/component"] ?? "",
    );
    if (!apiClient && automount !== false)
      problems.push(
        `${describe(template.owner)}: mounts a service-account token (automountServiceAccountToken is not false)`,
      );
  }

  for (const template of templates) {
    const where = describe(template.owner);
    const volumes = new Map((template.spec.volumes ?? []).map((v) => [v.name, v]));
    const containers = [...template.spec.containers, ...(template.spec.initContainers ?? [])];
    for (const container of containers) {
      if (
        !/(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/.test(container.image) ||
        container.image.endsWith(":latest")
      ) {
        problems.push(`${where}: container ${container.name} uses an unpinned image ${container.image}`);
      }
      if (!container.resources?.requests?.cpu || !container.resources.requests.memory) {
        problems.push(`${where}: container ${container.name} has no cpu and memory requests`);
      }
      for (const env of container.env ?? []) {
        // Secrets are files (render/secret-files.ts): an environment leaks into every child process.
        if (env.valueFrom?.secretKeyRef)
          problems.push(`${where}: ${container.name} env ${env.name} holds a secret (mount it as a file)`);
        const ref = env.valueFrom?.secretKeyRef ?? env.valueFrom?.configMapKeyRef;
        if (!ref) continue;
        const kind = env.valueFrom?.secretKeyRef ? "Secret" : "ConfigMap";
        const target = objects.find((o) => o.kind === kind && o.metadata.name === ref.name);
        if (!target)
          problems.push(`${where}: ${container.name} env ${env.name} names missing ${kind} ${ref.name}`);
        else if (!dataKeys(target).has(ref.key))
          problems.push(
            `${where}: ${container.name} env ${env.name} names missing key ${ref.key} of ${kind} ${ref.name}`,
          );
      }
      for (const mount of container.volumeMounts ?? []) {
        const volume = volumes.get(mount.name);
        if (!volume && !template.claimTemplates.includes(mount.name)) {
          problems.push(`${where}: ${container.name} mounts unknown volume ${mount.name}`);
        }
        if (volume?.configMap && mount.subPath) {
          const configMap = objects.find(
            (o) => o.kind === "ConfigMap" && o.metadata.name === volume.configMap?.name,
          );
          if (configMap && !dataKeys(configMap).has(mount.subPath))
            problems.push(
              `${where}: ${container.name} mounts missing key ${mount.subPath} of ConfigMap ${configMap.metadata.name}`,
            );
        }
      }
    }
    if (template.longRunning) {
      for (const container of template.spec.containers) {
        if (!container.readinessProbe || !container.livenessProbe) {
          problems.push(`${where}: container ${container.name} lacks a readiness or liveness probe`);
        }
      }
      const budget = byKind("PodDisruptionBudget").find((p) =>
        matches(
          (p.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels,
          template.labels,
        ),
      );
      if (!budget) problems.push(`${where}: no PodDisruptionBudget covers its pods`);
    }
    for (const volume of volumes.values()) {
      if (volume.secret) {
        const secret = objects.find(
          (o) => o.kind === "Secret" && o.metadata.name === volume.secret?.secretName,
        );
        if (!secret)
          problems.push(`${where}: volume ${volume.name} names missing Secret ${volume.secret.secretName}`);
        for (const item of volume.secret.items ?? []) {
          if (secret && !dataKeys(secret).has(item.key))
            problems.push(
              `${where}: volume ${volume.name} names missing key ${item.key} of Secret ${secret.metadata.name}`,
            );
        }
      }
      if (
        volume.configMap &&
        !objects.some((o) => o.kind === "ConfigMap" && o.metadata.name === volume.configMap?.name)
      ) {
        problems.push(`${where}: volume ${volume.name} names missing ConfigMap ${volume.configMap.name}`);
      }
      if (
        volume.persistentVolumeClaim &&
        !externalClaims.includes(volume.persistentVolumeClaim.claimName) &&
        !objects.some(
          (o) =>
            o.kind === "PersistentVolumeClaim" && o.metadata.name === volume.persistentVolumeClaim?.claimName,
        )
      ) {
        problems.push(
          `${where}: volume ${volume.name} names missing claim ${volume.persistentVolumeClaim.claimName}`,
        );
      }
    }
  }
  return problems;
}

/** Both checks; empty when the set is good. */
export function validateManifests(objects: K8sObject[], externalClaims: readonly string[] = []): string[] {
  return [...schemaProblems(objects), ...invariantProblems(objects, externalClaims)];
}

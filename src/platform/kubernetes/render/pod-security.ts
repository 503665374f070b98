// The restricted Pod Security Standard for every pod but the optional NFS server: non-root with a
// fixed user per image, the runtime's default seccomp profile, no privilege escalation, no
// capabilities. Applied to the rendered pod templates in one place, so no component can forget it.
import { podTemplateOf, type Component, type K8sObject } from "./common.js";

/** The user each image runs as (the images' own unprivileged users). null: not restricted. */
const RUN_AS: Record<Component, { user: number; group: number } | null> = {
  // The mariadb image's `mysql`; the hapress image's USER is the same, so the init step and the
  // agent read and write the data the server owns.
  database: { user: 999, group: 999 },
  controller: { user: 999, group: 999 },
  // The wordpress image's `www-data`.
  web: { user: 33, group: 33 },
  install: { user: 33, group: 33 },
  // The curl image's `curl_user`.
  cron: { user: 100, group: 101 },
  // The hapress image's user, as the agent: the backups it writes are the database's files.
  backup: { user: 999, group: 999 },
  archive: { user: 999, group: 999 },
  // The kernel NFS server needs privileges: it cannot be restricted (see the namespace's labels).
  storage: null,
};

interface PodSpec {
  securityContext?: Record<string, unknown>;
  containers: { securityContext?: Record<string, unknown> }[];
  initContainers?: { securityContext?: Record<string, unknown> }[];
}

/** Sets the restricted profile's fields on every pod template of `objects` (in place) and returns them. */
export function restrictPods(objects: K8sObject[]): K8sObject[] {
  for (const object of objects) {
    const template = podTemplateOf<PodSpec>(object);
    if (!template) continue;
    const component = template.labels["app.kubernetes.io/component"] as Component | undefined;
    const runAs = component ? RUN_AS[component] : null;
    if (!runAs) continue;
    const spec = template.spec;
    spec.securityContext = {
      runAsNonRoot: true,
      runAsUser: runAs.user,
      runAsGroup: runAs.group,
      fsGroup: runAs.group,
      seccompProfile: { type: "RuntimeDefault" },
      // Apache as www-data still serves port 80: a namespaced sysctl of the safe set, allowed by the
      // restricted profile, instead of a capability.
      ...(component === "web"
        ? { sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }] }
        : {}),
      ...spec.securityContext,
    };
    for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
      container.securityContext = {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        // The controller writes nothing; the images of the other containers write where they run.
        ...(component === "controller" ? { readOnlyRootFilesystem: true } : {}),
        ...container.securityContext,
      };
    }
  }
  return objects;
}

/** Whether a pod template meets the restricted profile's rules that hapress sets (for the invariants). */
export function restrictedProblems(object: K8sObject): string[] {
  const template = podTemplateOf<PodSpec>(object);
  if (!template) return [];
  if (template.labels["app.kubernetes.io/component"] === "storage") return [];
  const problems: string[] = [];
  const pod = template.spec.securityContext ?? {};
  if (pod.runAsNonRoot !== true) problems.push("runAsNonRoot is not true");
  if ((pod.seccompProfile as { type?: string } | undefined)?.type !== "RuntimeDefault")
    problems.push("no RuntimeDefault seccomp profile");
  for (const container of [...(template.spec.initContainers ?? []), ...template.spec.containers]) {
    const c = container.securityContext ?? {};
    if (c.allowPrivilegeEscalation !== false) problems.push("a container may escalate privileges");
    if (JSON.stringify((c.capabilities as { drop?: string[] } | undefined)?.drop) !== '["ALL"]')
      problems.push("a container keeps capabilities");
    if (c.privileged === true) problems.push("a privileged container");
  }
  return problems;
}

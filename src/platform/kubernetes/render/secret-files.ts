// Secrets reach containers as files, never as environment variables: an environment is copied into
// every child process, shown by `kubectl describe` tooling and crash reports, and readable in
// /proc/<pid>/environ. Components declare what they need with secretEnv(); this pass, applied once to
// every pod template, turns each such variable into `<NAME>_FILE` (the convention of the official
// mariadb and wordpress images, and of hapress itself) and mounts only those keys, read-only.
import { podTemplateOf, type K8sObject } from "./common.js";

/** Where a container finds its secrets. */
export const SECRETS_DIR = "/run/secrets/hapress";

interface Env {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

interface Container {
  name: string;
  env?: Env[];
  volumeMounts?: Record<string, unknown>[];
}

interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Record<string, unknown>[];
}

/** Rewrites secret variables into files on every pod template of `objects` (in place) and returns them. */
export function secretsAsFiles(objects: K8sObject[]): K8sObject[] {
  for (const object of objects) {
    const template = podTemplateOf<PodSpec>(object);
    if (!template) continue;
    const spec = template.spec;
    for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
      const refs = (container.env ?? []).flatMap((e) =>
        e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [],
      );
      if (refs.length === 0) continue;
      const secretNames = new Set(refs.map((r) => r.name));
      if (secretNames.size > 1)
        throw new Error(`${object.kind}/${object.metadata.name}: ${container.name} reads several Secrets`);
      // One volume per container: each sees only its own keys, not its neighbours'.
      const volume = `secrets-${container.name}`;
      container.env = (container.env ?? []).map((e) =>
        e.valueFrom?.secretKeyRef
          ? { name: `${e.name}_FILE`, value: `${SECRETS_DIR}/${e.valueFrom.secretKeyRef.key}` }
          : e,
      );
      container.volumeMounts = [
        ...(container.volumeMounts ?? []),
        { name: volume, mountPath: SECRETS_DIR, readOnly: true },
      ];
      const keys = [...new Set(refs.map((r) => r.key))].sort();
      spec.volumes = [
        ...(spec.volumes ?? []),
        {
          name: volume,
          // Readable by the pod's group (fsGroup): the containers' unprivileged users, nobody else.
          secret: {
            secretName: [...secretNames][0],
            defaultMode: 0o440,
            items: keys.map((key) => ({ key, path: key })),
          },
        },
      ];
    }
  }
  return objects;
}

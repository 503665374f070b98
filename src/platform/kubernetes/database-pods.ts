import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";

/** The site's database pods (the StatefulSet's `mysql-N`), as the API lists them now. */
export async function listDatabasePods(core: CoreV1Api, namespace: string, site: string): Promise<V1Pod[]> {
  const list = await core.listNamespacedPod({
    namespace,
    labelSelector: `app.kubernetes.io/instance=${site},app.kubernetes.io/component=database`,
  });
  return list.items.filter((p) => /^mysql-\d+$/.test(p.metadata?.name ?? ""));
}

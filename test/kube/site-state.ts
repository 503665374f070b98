// What the Kubernetes tests and benchmark read of a site's database tier through the API and the
// instances' admin port: pods, readiness, the recorded primary, and whether the tier has settled.
import { connectSql } from "../../src/mysql/client.js";
import { parsePrimaryRecord, STATE_CONFIGMAP } from "../../src/platform/kubernetes/cluster-state.js";
import { ROLE_LABEL } from "../../src/platform/kubernetes/render.js";
import { ADMIN_PORT } from "../../src/topology/topology.js";
import { KubeApiError, type KubeClient, type KubeObject } from "./client.js";

export async function getPod(api: KubeClient, namespace: string, name: string): Promise<KubeObject | null> {
  try {
    return await api.get(`/api/v1/namespaces/${namespace}/pods/${name}`);
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 404) return null;
    throw error;
  }
}

export function isReady(object: KubeObject | null): boolean {
  const conditions = (object?.status?.conditions ?? []) as { type: string; status: string }[];
  return conditions.some((c) => c.type === "Ready" && c.status === "True");
}

export function podIp(object: KubeObject | null): string {
  const ip = object?.status?.podIP;
  return typeof ip === "string" ? ip : "";
}

/** The primary and epoch the controllers recorded in the state ConfigMap. */
export async function recordedPrimary(
  api: KubeClient,
  namespace: string,
): Promise<{ primary: string; epoch: number } | null> {
  const state = await api.get(`/api/v1/namespaces/${namespace}/configmaps/${STATE_CONFIGMAP}`);
  return parsePrimaryRecord((state as { data?: Record<string, string> }).data ?? {});
}

/**
 * Settled as the controller sees it: every database pod ready and labelled for its role, and every
 * replica streaming from the recorded primary. (Pod readiness alone is not enough: a fault while a
 * replica is still rejoining rightly finds no majority, and measures that instead of a failover.)
 */
export async function databaseSettled(
  api: KubeClient,
  namespace: string,
  replicas: number,
  admin: { user: string; password: string },
): Promise<boolean> {
  const record = await recordedPrimary(api, namespace);
  if (!record) return false;
  const primaryIp = podIp(await getPod(api, namespace, record.primary));
  for (let ordinal = 0; ordinal < replicas; ordinal++) {
    const name = `mysql-${ordinal}`;
    const current = await getPod(api, namespace, name);
    const role = current?.metadata.labels?.[ROLE_LABEL];
    if (!isReady(current) || role !== (name === record.primary ? "primary" : "replica")) return false;
    if (name === record.primary) continue;
    const session = await connectSql({ host: podIp(current), port: ADMIN_PORT }, admin, {
      connectTimeoutMs: 1000,
      queryTimeoutMs: 2000,
    });
    try {
      const [status] = await session.query("SHOW SLAVE STATUS");
      if (status?.Slave_IO_Running !== "Yes" || status.Master_Host !== primaryIp) return false;
    } finally {
      await session.close();
    }
  }
  return true;
}

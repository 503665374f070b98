import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { dirname, join, resolve } from "node:path";
import { InputError } from "../errors.js";
import { applySite, type ApplyResult } from "../platform/kubernetes/apply.js";
import { PRIMARY_KEY, parsePrimaryRecord, STATE_CONFIGMAP } from "../platform/kubernetes/cluster-state.js";
import { apiMessage, apiStatus, loadKubeConfig } from "../platform/kubernetes/cluster.js";
import { SECRET_NAME } from "../platform/kubernetes/render.js";
import { prepareManifests } from "../platform/kubernetes/render-command.js";
import { downSite } from "../platform/kubernetes/site-down.js";
import { clusterSiteStatus, readClusterSnapshot } from "../platform/kubernetes/site-status.js";
import type { SiteStatus } from "../status/site-status.js";
import { writeSpecField } from "../spec/edit.js";
import { loadSpec } from "../spec/load.js";
import type { Spec } from "../spec/schema.js";
import { refuseRemovingPrimary } from "../state/primary.js";
import { sleep } from "../util/process.js";
import { requestSwitchover } from "../state/switchover-client.js";
import { ClusterSwitchoverStore } from "../platform/kubernetes/cluster-switchover.js";
import { KubeFaults } from "../chaos/kube-faults.js";
import type { ChaosCredentials } from "../chaos/runner.js";
import { report, type GlobalOptions } from "./options.js";
import { checkNamespace, type ClusterTarget } from "./cluster-options.js";

interface ClusterSite {
  file: string;
  spec: Spec;
  kc: KubeConfig;
  namespace: string;
}

function withNamespace(spec: Spec, namespace: string | undefined): Spec {
  return namespace ? { ...spec, kubernetes: { ...spec.kubernetes, namespace } } : spec;
}

/** The spec (its name and namespace say which site) and the cluster, both checked before any change. */
export async function openClusterSite(globals: GlobalOptions, target: ClusterTarget): Promise<ClusterSite> {
  checkNamespace(target.namespace);
  const file = globals.file ?? "hapress.yaml";
  const spec = withNamespace(
    await loadSpec(file, { explicit: globals.file !== undefined }),
    target.namespace,
  );
  const kc = loadKubeConfig({ context: target.context });
  return { file, spec, kc, namespace: spec.kubernetes.namespace };
}

/** Renders the spec and applies it (shared by `apply` and `scale`); progress goes to stderr. */
export async function applySpec(
  site: ClusterSite,
  options: { secretsFile?: string; dryRun: boolean; diff?: boolean; timeoutMs: number },
): Promise<ApplyResult> {
  const objects = await prepareManifests({
    spec: site.spec,
    specSource: site.file,
    secretsFile: options.secretsFile ?? join(dirname(resolve(site.file)), "hapress-secrets.json"),
    report,
  });
  report(
    `applying ${objects.length} objects of site ${site.spec.name} to namespace ${site.namespace} (context ${site.kc.getCurrentContext()})${options.dryRun ? ", server-side dry run" : ""}`,
  );
  const result = await applySite({
    kc: site.kc,
    objects,
    site: site.spec.name,
    namespace: site.namespace,
    dryRun: options.dryRun,
    diff: options.diff ?? false,
    timeoutMs: options.timeoutMs,
    report,
    sleep,
  });
  report(
    result.changed.length === 0 && result.pruned.length === 0
      ? `nothing changed: the cluster already matches the spec (${result.unchanged} objects)`
      : `${result.changed.length} changed, ${result.unchanged} unchanged, ${result.pruned.length} pruned${options.dryRun ? " (dry run: nothing stored)" : ""}`,
  );
  return result;
}

export async function clusterApply(
  globals: GlobalOptions,
  target: ClusterTarget,
  options: { secretsFile?: string; dryRun: boolean; diff?: boolean; timeoutMs: number },
): Promise<void> {
  await applySpec(await openClusterSite(globals, target), options);
}

/** The credentials status shows with --show-secrets, read from the site's Secret in the cluster. */
async function clusterCredentials(site: ClusterSite): Promise<NonNullable<SiteStatus["credentials"]>> {
  const secret = await site.kc
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name: SECRET_NAME, namespace: site.namespace });
  const value = (key: string) => Buffer.from(secret.data?.[key] ?? "", "base64").toString("utf8");
  return {
    app: { user: value("app-user"), password: value("app-password"), database: value("app-database") },
    replication: { user: value("replication-user"), password: value("replication-password") },
    admin: { user: value("admin-user"), password: value("admin-password") },
  };
}

export async function clusterStatus(
  globals: GlobalOptions,
  target: ClusterTarget,
  showSecrets: boolean,
): Promise<SiteStatus> {
  const site = await openClusterSite(globals, target);
  const snapshot = await readClusterSnapshot(site.kc, site.spec.name, site.namespace);
  const status = clusterSiteStatus(site.spec, snapshot, new Date());
  return showSecrets && status.running ? { ...status, credentials: await clusterCredentials(site) } : status;
}

export async function clusterDown(
  globals: GlobalOptions,
  target: ClusterTarget,
  options: { volumes: boolean; timeoutMs: number },
): Promise<void> {
  const site = await openClusterSite(globals, target);
  report(
    `deleting site ${site.spec.name} from namespace ${site.namespace} (context ${site.kc.getCurrentContext()})${options.volumes ? " with its volumes and credentials" : "; its volumes, credentials and primary record stay"}`,
  );
  const { removed, kept } = await downSite({
    kc: site.kc,
    site: site.spec.name,
    namespace: site.namespace,
    volumes: options.volumes,
    timeoutMs: options.timeoutMs,
    report,
    sleep,
  });
  report(
    removed.length === 0
      ? `nothing to delete: no object of site ${site.spec.name} in namespace ${site.namespace}`
      : `deleted ${removed.length} objects; every pod of the site is gone`,
  );
  if (kept.length > 0)
    report(
      `kept ${kept.join(", ")}: 'hapress apply' brings the site back on its data; --volumes deletes them`,
    );
  report(`namespace ${site.namespace} kept (it may hold more than this site)`);
}

/**
 * `scale` on Kubernetes: the spec file gets the new count (comments kept), then the site is applied
 * from it, so the file stays the truth and the next `apply` keeps the change. The Role's pod names
 * and the StatefulSet change together that way.
 */
export async function clusterScale(
  globals: GlobalOptions,
  target: ClusterTarget,
  tier: "mysql" | "wordpress",
  replicas: number,
  timeoutMs: number,
): Promise<void> {
  const site = await openClusterSite(globals, target);
  const path = [tier === "mysql" ? "database" : "wordpress", "replicas"];
  if (tier === "mysql") {
    const state = await site.kc
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: STATE_CONFIGMAP, namespace: site.namespace })
      .catch((error: unknown) => {
        if (apiStatus(error) === 404) return null;
        throw new InputError(`cannot read the primary record: ${apiMessage(error)}`, { cause: error });
      });
    refuseRemovingPrimary(state?.data?.[PRIMARY_KEY] ? parsePrimaryRecord(state.data) : null, replicas);
  }
  // Checked as a whole spec before the file is touched; a spec file that does not exist is created.
  const spec = withNamespace(await writeSpecField(site.file, path, replicas), target.namespace);
  report(`${site.file}: ${path.join(".")} set to ${replicas}`);
  await applySpec({ ...site, spec }, { dryRun: false, timeoutMs });
}

/**
 * `switchover --kubernetes`: the request goes into the site's state ConfigMap, which the leading
 * controller reads every round (a controller elected mid-way finds it there too); the steps it
 * reports there are printed as they come.
 */
export async function switchoverClusterSite(
  globals: GlobalOptions,
  target: ClusterTarget,
  request: { to: string | null; deadlineMs: number; onStep: (message: string) => void },
): Promise<string> {
  const site = await openClusterSite(globals, target);
  report(
    `asking the controller of site ${site.spec.name} in namespace ${site.namespace} (context ${site.kc.getCurrentContext()}) for a switchover${request.to ? ` to ${request.to}` : ""}`,
  );
  const store = new ClusterSwitchoverStore(site.kc.makeApiClient(CoreV1Api), site.namespace);
  return requestSwitchover(store, { ...request, pollMs: 100, sleep });
}

/**
 * `chaos --kubernetes`: the fault port of the site on the cluster, and the accounts its clients use,
 * read from the site's Secret (what a user who may read it has; nothing is written).
 */
export async function openClusterChaos(
  globals: GlobalOptions,
  target: ClusterTarget,
  log: (line: string) => void,
): Promise<{
  faults: KubeFaults;
  credentials: ChaosCredentials;
  wordpressAdmin: { user: string; password: string };
}> {
  const site = await openClusterSite(globals, target);
  const secret = await site.kc
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name: SECRET_NAME, namespace: site.namespace })
    .catch((error: unknown) => {
      throw new InputError(
        apiStatus(error) === 404
          ? `no Secret ${SECRET_NAME} in namespace ${site.namespace}: is site ${site.spec.name} applied there? (hapress apply, or --namespace NAME)`
          : `cannot read Secret ${SECRET_NAME} in namespace ${site.namespace}: ${apiMessage(error)}`,
        { cause: error },
      );
    });
  const value = (key: string): string => {
    const encoded = secret.data?.[key];
    if (!encoded) throw new InputError(`Secret ${SECRET_NAME} has no '${key}'`);
    return Buffer.from(encoded, "base64").toString("utf8");
  };
  const faults = new KubeFaults(site.kc, site.spec, site.namespace, log, sleep, {
    user: value("admin-user"),
    password: value("admin-password"),
  });
  await faults.readPartitionSupport();
  return {
    faults,
    credentials: {
      appUser: value("app-user"),
      appPassword: value("app-password"),
      appDatabase: value("app-database"),
      adminUser: value("admin-user"),
      adminPassword: value("admin-password"),
    },
    wordpressAdmin: { user: site.spec.site.adminUser, password: value("wordpress-admin-password") },
  };
}

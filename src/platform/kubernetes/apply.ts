import {
  KubernetesObjectApi,
  PatchStrategy,
  VersionApi,
  type KubeConfig,
  type KubernetesObject,
} from "@kubernetes/client-node";
// Not re-exported by the package's index; the package has no export map, so its files are reachable.
import { ObjectSerializer } from "@kubernetes/client-node/dist/serializer.js";
import { getSerializationType } from "@kubernetes/client-node/dist/util.js";
import { HapressError, InputError } from "../../errors.js";
import {
  objectChanged,
  objectDiff,
  PRUNABLE_KINDS,
  pruneCandidates,
  secretDrift,
  siteNamespaces,
  siteSelector,
  type ClusterObject,
} from "./apply-plan.js";
import { apiMessage, apiStatus } from "./cluster.js";
import type { K8sObject } from "./render.js";
import { waitUntilWorking } from "./apply-wait.js";

export const FIELD_MANAGER = "hapress";

export interface ApplyOptions {
  kc: KubeConfig;
  objects: K8sObject[];
  site: string;
  namespace: string;
  /** Server-side dry run: the API server validates and admits everything, nothing is stored. */
  dryRun: boolean;
  /** With the dry run: print each changed object's differences, field by field. */
  diff?: boolean;
  timeoutMs: number;
  report: (line: string) => void;
  now?: () => number;
  sleep: (ms: number) => Promise<void>;
}

export interface ApplyResult {
  changed: string[];
  unchanged: number;
  pruned: string[];
}

function describe(object: ClusterObject): string {
  const ns = object.metadata?.namespace;
  return `${object.kind ?? "?"}/${ns ? `${ns}/` : ""}${object.metadata?.name ?? "?"}`;
}

/** Fails with the cluster named when it cannot be reached; nothing has been sent yet. */
async function checkReachable(kc: KubeConfig): Promise<void> {
  try {
    await kc.makeApiClient(VersionApi).getCode();
  } catch (error) {
    throw new HapressError(
      `cannot reach the cluster of context '${kc.getCurrentContext()}' (${kc.getCurrentCluster()?.server ?? "no server"}): ${apiMessage(error)}; nothing was applied`,
      { cause: error },
    );
  }
}

/** One object as the API server would store it: the change it makes, or why it refuses it. */
interface Checked {
  object: K8sObject;
  before: ClusterObject | null;
  /** What a server-side dry run stored in its place; null when refused or not checked. */
  after: ClusterObject | null;
  refusal: string | null;
  /** Its namespace does not exist (a dry run of a new site): the server cannot check it yet. */
  unchecked: boolean;
}

/**
 * `hapress apply`: every object is first applied as a server-side dry run, so an apply either
 * changes everything or nothing: one that the API server (or an admission webhook) would refuse is
 * named with the reason and nothing is changed. Then server-side apply (field manager `hapress`) in
 * order, prune of this site's objects the spec no longer renders, and (not in a dry run) a wait for
 * the site to work, one progress line per step.
 */
export async function applySite(options: ApplyOptions): Promise<ApplyResult> {
  const { kc, report } = options;
  await checkReachable(kc);
  const api = KubernetesObjectApi.makeApiClient(kc);
  const result: ApplyResult = { changed: [], unchanged: 0, pruned: [] };
  const read = async (object: ClusterObject): Promise<ClusterObject | null> => {
    try {
      return (await api.read(object as KubernetesObject & { metadata: { name: string } })) as ClusterObject;
    } catch (error) {
      if (apiStatus(error) === 404) return null;
      throw error;
    }
  };
  await refuseSecretDrift(options, read);
  // A new namespace is made first (nothing can be checked inside one that does not exist), and taken
  // away again when the check refuses: a refused apply leaves the cluster as it found it.
  const created = options.dryRun ? [] : await createMissingNamespaces(options, api, read);
  const checked = await checkEveryObject(options, api, read);
  const refused = checked.filter((c) => c.refusal !== null);
  if (refused.length > 0) {
    for (const namespace of created) await api.delete(namespace as KubernetesObject).catch(() => undefined);
    throw new InputError(
      `the API server would refuse ${refused.length} of ${checked.length} objects, so nothing was applied:\n${refused.map((c) => `  ${describe(c.object)}: ${c.refusal ?? ""}`).join("\n")}`,
    );
  }
  if (options.dryRun) {
    for (const c of checked) {
      if (c.unchecked) report(`  ${describe(c.object)}: not checked (its namespace does not exist yet)`);
      else if (c.after && objectChanged(c.before, c.after)) {
        result.changed.push(describe(c.object));
        report(`  ${describe(c.object)} ${c.before === null ? "created" : "configured"} (dry run)`);
        if (options.diff) for (const line of objectDiff(c.before, c.after)) report(`      ${line}`);
      } else result.unchanged++;
    }
    result.pruned = await prune(options, api);
    return result;
  }
  for (const object of options.objects) {
    const name = describe(object);
    const before = await read(object);
    let after: ClusterObject;
    try {
      after = await serverSideApply(api, object, false);
    } catch (error) {
      // Checked a moment ago: someone changed the cluster in between.
      throw new HapressError(
        `${name}: the API server refused it after accepting it in the dry run: ${apiMessage(error)}; ${result.changed.length} object(s) were applied before it (run apply again)`,
        { cause: error },
      );
    }
    if (objectChanged(before, after)) {
      result.changed.push(name);
      report(`  ${name} ${before === null ? "created" : "configured"}`);
    } else {
      result.unchanged++;
    }
  }
  result.pruned = await prune(options, api);
  await waitUntilWorking(options);
  return result;
}

/** Server-side apply as field manager `hapress`, taking over fields (force), or only checked (`dryRun`). */
function serverSideApply(
  api: KubernetesObjectApi,
  object: K8sObject,
  dryRun: boolean,
): Promise<ClusterObject> {
  return api.patch(
    asTypedModel(object),
    undefined,
    dryRun ? "All" : undefined,
    FIELD_MANAGER,
    true,
    PatchStrategy.ServerSideApply,
  );
}

/** Applies the site's Namespace objects that do not exist yet; returns those it made. */
async function createMissingNamespaces(
  options: ApplyOptions,
  api: KubernetesObjectApi,
  read: (object: ClusterObject) => Promise<ClusterObject | null>,
): Promise<K8sObject[]> {
  const created: K8sObject[] = [];
  for (const namespace of options.objects.filter((o) => o.kind === "Namespace")) {
    if ((await read(namespace)) !== null) continue;
    try {
      await serverSideApply(api, namespace, false);
    } catch (error) {
      throw new HapressError(
        `${describe(namespace)}: the API server refused it: ${apiMessage(error)}; nothing was applied`,
        { cause: error },
      );
    }
    created.push(namespace);
    options.report(`  ${describe(namespace)} created (to check what goes in it)`);
  }
  return created;
}

/** A server-side dry run of every object: what each would become, or why it would be refused. */
async function checkEveryObject(
  options: ApplyOptions,
  api: KubernetesObjectApi,
  read: (object: ClusterObject) => Promise<ClusterObject | null>,
): Promise<Checked[]> {
  const missingNamespaces = new Set<string>();
  const checked: Checked[] = [];
  for (const object of options.objects) {
    if (missingNamespaces.has(object.metadata.namespace ?? "")) {
      checked.push({ object, before: null, after: null, refusal: null, unchecked: true });
      continue;
    }
    const before = await read(object);
    if (object.kind === "Namespace" && before === null) {
      missingNamespaces.add(object.metadata.name);
    }
    try {
      const after = await serverSideApply(api, object, true);
      checked.push({ object, before, after, refusal: null, unchecked: false });
    } catch (error) {
      checked.push({ object, before, after: null, refusal: refusalOf(error), unchecked: false });
    }
  }
  return checked;
}

/** The API server's reason, with what to do for the refusal users meet most (an immutable field). */
function refusalOf(error: unknown): string {
  const message = apiMessage(error);
  return /field is immutable/.test(message)
    ? `${message} (an immutable field changed: delete the object and apply again, or undo the change)`
    : message;
}

/** Nothing is applied when the rendered credentials differ from those the cluster's site runs with. */
async function refuseSecretDrift(
  options: ApplyOptions,
  read: (object: ClusterObject) => Promise<ClusterObject | null>,
): Promise<void> {
  for (const secret of options.objects.filter((o) => o.kind === "Secret")) {
    const drift = secretDrift(
      (await read(secret)) as { data?: Record<string, string> } | null,
      secret as { stringData?: Record<string, string> },
    );
    if (drift.length > 0) {
      throw new InputError(
        `Secret ${options.namespace}/${secret.metadata.name} in the cluster holds other values for ${drift.join(", ")} than the secrets file: applying would lock the site out of its own databases. Use the secrets file this site was deployed with (--secrets FILE), or write the cluster's values into it (kubectl get secret ${secret.metadata.name} -n ${options.namespace} -o json); nothing was applied`,
      );
    }
  }
}

/**
 * This site's objects of these kinds, found by its instance label. A namespace that does not exist
 * (yet: a dry run) holds none; any other failure is thrown.
 */
export async function listSiteObjects(
  api: KubernetesObjectApi,
  kinds: { apiVersion: string; kind: string; namespaced: boolean }[],
  site: string,
  namespace: string,
): Promise<ClusterObject[]> {
  const existing: ClusterObject[] = [];
  for (const kind of kinds) {
    for (const where of kind.namespaced ? siteNamespaces(namespace) : [undefined]) {
      try {
        const list = await api.list(
          kind.apiVersion,
          kind.kind,
          where,
          undefined,
          undefined,
          undefined,
          undefined,
          siteSelector(site),
        );
        for (const item of list.items)
          existing.push({ ...item, apiVersion: kind.apiVersion, kind: kind.kind });
      } catch (error) {
        if (apiStatus(error) !== 404) throw error;
      }
    }
  }
  return existing;
}

/** Deletes this site's objects the spec no longer renders (never data: PVCs are not pruned). */
async function prune(options: ApplyOptions, api: KubernetesObjectApi): Promise<string[]> {
  const existing = await listSiteObjects(api, PRUNABLE_KINDS, options.site, options.namespace);
  const pruned: string[] = [];
  for (const object of pruneCandidates(existing, options.objects)) {
    const name = describe(object);
    await api.delete(
      object as KubernetesObject,
      undefined,
      options.dryRun ? "All" : undefined,
      undefined,
      undefined,
      "Background",
    );
    pruned.push(name);
    options.report(`  ${name} pruned (no longer in the spec)${options.dryRun ? " (dry run)" : ""}`);
  }
  return pruned;
}

/**
 * The object as the client library's typed model. `KubernetesObjectApi.patch` writes a body through
 * the model of its kind, which names a few fields differently from the API (NetworkPolicy's `from` is
 * `_from`, read from the object by that name): a plain object's `from` was dropped on the way, and
 * every ingress rule the API server stored allowed any source (found on a real node, where the
 * policies are enforced). Turned into the model first, every field the model knows arrives.
 */
export function asTypedModel<T extends KubernetesObject>(object: T): T {
  return ObjectSerializer.deserialize(object, getSerializationType(object.apiVersion, object.kind)) as T;
}

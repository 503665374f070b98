import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import {
  CoreV1Api,
  KubernetesObjectApi,
  Log,
  NetworkingV1Api,
  PatchStrategy,
  type V1Pod,
} from "@kubernetes/client-node";
import type { RunSet } from "../chaos/report.js";
import { isResultLine, readResultLine } from "../chaos/result-line.js";
import { KubePartition } from "../chaos/kube-partition.js";
import { errorMessage, HapressError, InputError } from "../errors.js";
import { apiMessage, apiStatus } from "../platform/kubernetes/cluster.js";
import { asTypedModel } from "../platform/kubernetes/apply.js";
import {
  CHAOS_RUNNER,
  CHAOS_RUNNER_CONTAINER,
  chaosLabels,
  chaosRunnerObjects,
} from "../platform/kubernetes/chaos-objects.js";
import type { K8sObject } from "../platform/kubernetes/render/common.js";
import { sleep } from "../util/process.js";
import type { ClusterTarget } from "./cluster-options.js";
import { openClusterSite } from "./cluster-site.js";
import type { GlobalOptions } from "./options.js";

/** The most one run of a scenario may take inside the runner (its pod's deadline counts on it). */
const RUN_BOUND_SECONDS = 600;
/** How long the runner pod may take to start (its image pulled on a cold node included). */
const START_TIMEOUT_MS = 300_000;

/**
 * `hapress chaos --kubernetes --in-cluster`: the scenarios run from a pod of the hapress image in the
 * site's namespace, which reaches the Services and the pods as the site's own pods do, so that a
 * machine reaching only the API (a laptop) can run them. This command adds the runner and what it may
 * do (chaos-objects.ts), prints its progress as it comes, reads its runs back from its log, and
 * removes all of it again (a partition it left included), whatever happened.
 */
export async function runChaosInCluster(
  globals: GlobalOptions,
  target: ClusterTarget,
  request: { scenarios: string[]; runs: number },
  log: (line: string) => void,
): Promise<RunSet> {
  const site = await openClusterSite(globals, target);
  const { kc, namespace } = site;
  const core = kc.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  await refuseConcurrentRun(core, site.spec.name, namespace);
  const pod = `${CHAOS_RUNNER}-${randomBytes(3).toString("hex")}`;
  const manifests = chaosRunnerObjects({
    site: site.spec.name,
    namespace,
    image: site.spec.kubernetes.images.hapress,
    specJson: JSON.stringify(site.spec),
    pod,
    chaosArgs: ["--scenario", request.scenarios.join(","), "--runs", String(request.runs), "--emit-result"],
    deadlineSeconds: request.scenarios.length * request.runs * RUN_BOUND_SECONDS + 300,
  });
  log(
    `starting the chaos runner ${pod} in namespace ${namespace} (context ${kc.getCurrentContext()}, image ${site.spec.kubernetes.images.hapress})`,
  );
  // Ctrl-C still removes the runner (its scenario heals what it did as it stops: SIGTERM).
  const interrupted = () =>
    void removeRunner(objects, core, kc, manifests, site.spec.name, namespace).finally(() =>
      process.exit(130),
    );
  process.once("SIGINT", interrupted);
  try {
    for (const object of manifests) await applyObject(objects, object);
    await waitUntilStarted(core, pod, namespace);
    await followLog(kc, pod, namespace, log);
    const exitCode = await waitUntilTerminated(core, pod, namespace, request.scenarios.length * request.runs);
    const output = await core.readNamespacedPodLog({
      name: pod,
      namespace,
      container: CHAOS_RUNNER_CONTAINER,
    });
    const line = output.split("\n").find(isResultLine);
    if (!line)
      throw new HapressError(
        `the chaos runner ${pod} ended (exit code ${exitCode}) without its runs; its last lines:\n${output.trim().split("\n").slice(-8).join("\n")}`,
      );
    return readResultLine(line, `the chaos runner ${pod}`);
  } finally {
    process.removeListener("SIGINT", interrupted);
    await removeRunner(objects, core, kc, manifests, site.spec.name, namespace);
    log(`chaos runner ${pod} and its objects removed`);
  }
}

/** One chaos run at a time in a namespace: two would count each other's faults as their own. */
async function refuseConcurrentRun(core: CoreV1Api, site: string, namespace: string): Promise<void> {
  const labels = chaosLabels(site);
  const pods = await core.listNamespacedPod({
    namespace,
    labelSelector: `app.kubernetes.io/name=${labels["app.kubernetes.io/name"]},app.kubernetes.io/instance=${site}`,
  });
  const running = pods.items.filter((p) => ["Pending", "Running"].includes(p.status?.phase ?? ""));
  if (running.length > 0) {
    const names = running.map((p) => p.metadata?.name ?? "?").join(", ");
    throw new InputError(
      `another chaos run is going on in namespace ${namespace} (pod ${names}); wait for it, or stop it: kubectl -n ${namespace} delete pod ${names}`,
    );
  }
}

async function applyObject(api: KubernetesObjectApi, object: K8sObject): Promise<void> {
  try {
    // As the typed model: a plain object's NetworkPolicy `from` would be dropped (see asTypedModel).
    const typed = asTypedModel(object);
    if (object.kind === "Pod") await api.create(typed);
    else await api.patch(typed, undefined, undefined, CHAOS_RUNNER, true, PatchStrategy.ServerSideApply);
  } catch (error) {
    throw new HapressError(
      `cannot create ${object.kind} ${object.metadata.name} in namespace ${object.metadata.namespace ?? "?"}: ${apiMessage(error)}`,
      { cause: error },
    );
  }
}

function containerState(pod: V1Pod) {
  return pod.status?.containerStatuses?.find((c) => c.name === CHAOS_RUNNER_CONTAINER)?.state;
}

/** Bounded: until its container runs (or already ended); an image that cannot be pulled is said at once. */
async function waitUntilStarted(core: CoreV1Api, pod: string, namespace: string): Promise<void> {
  let last = "not scheduled yet";
  for (let waited = 0; waited < START_TIMEOUT_MS; waited += 500) {
    const found = await core.readNamespacedPod({ name: pod, namespace });
    const state = containerState(found);
    if (state?.running || state?.terminated) return;
    const reason = state?.waiting?.reason ?? found.status?.phase ?? last;
    if (
      ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"].includes(reason)
    )
      throw new HapressError(
        `the chaos runner ${pod} cannot start: ${reason}: ${state?.waiting?.message ?? ""}`,
      );
    last = reason;
    await sleep(500);
  }
  throw new HapressError(
    `the chaos runner ${pod} did not start in ${START_TIMEOUT_MS / 1000} s (last: ${last})`,
  );
}

/** Its log printed line by line as it comes, the result line held back; returns when the stream ends. */
async function followLog(
  kc: ConstructorParameters<typeof Log>[0],
  pod: string,
  namespace: string,
  log: (line: string) => void,
): Promise<void> {
  let pending = "";
  const printLines = (text: string) => {
    const lines = (pending + text).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (!isResultLine(line)) log(line);
  };
  await new Promise<void>((resolve) => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        printLines(chunk.toString("utf8"));
        done();
      },
      final(done) {
        printLines("\n");
        done();
      },
    });
    sink.on("finish", resolve);
    sink.on("error", () => resolve());
    new Log(kc)
      .log(namespace, pod, CHAOS_RUNNER_CONTAINER, sink, { follow: true })
      .catch((error: unknown) => {
        // The progress is a courtesy: the runs are read from the whole log once the runner ends.
        log(`(the runner's progress cannot be followed: ${errorMessage(error)}; waiting for it to end)`);
        resolve();
      });
  });
}

/** Bounded by the pod's own deadline and a minute more; its container's exit code. */
async function waitUntilTerminated(
  core: CoreV1Api,
  pod: string,
  namespace: string,
  runs: number,
): Promise<number> {
  const polls = Math.ceil((runs * RUN_BOUND_SECONDS + 360) / 2);
  for (let poll = 0; poll < polls; poll++) {
    const found = await core.readNamespacedPod({ name: pod, namespace });
    const terminated = containerState(found)?.terminated;
    if (terminated) return terminated.exitCode;
    if (found.status?.phase === "Failed")
      throw new HapressError(
        `the chaos runner ${pod} failed: ${found.status.reason ?? ""} ${found.status.message ?? ""}`,
      );
    await sleep(2_000);
  }
  throw new HapressError(`the chaos runner ${pod} did not end within its deadline`);
}

/** Every object the runner brought, and a partition it may have left, removed; what is gone already is fine. */
async function removeRunner(
  api: KubernetesObjectApi,
  core: CoreV1Api,
  kc: ConstructorParameters<typeof Log>[0],
  manifests: K8sObject[],
  site: string,
  namespace: string,
): Promise<void> {
  for (const object of [...manifests].reverse()) {
    try {
      await api.delete(object, undefined, undefined, object.kind === "Pod" ? 0 : undefined);
    } catch (error) {
      if (apiStatus(error) !== 404)
        process.stderr.write(`cannot remove ${object.kind} ${object.metadata.name}: ${apiMessage(error)}\n`);
    }
  }
  await new KubePartition(core, kc.makeApiClient(NetworkingV1Api), site, namespace)
    .heal()
    .catch((error: unknown) => {
      process.stderr.write(`cannot heal a partition the runner may have left: ${errorMessage(error)}\n`);
    });
}

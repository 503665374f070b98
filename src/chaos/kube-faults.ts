import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type CoreV1Event,
  Exec,
  type KubeConfig,
  NetworkingV1Api,
  type V1Pod,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { errorMessage, HapressError } from "../errors.js";
import { apiMessage, apiStatus } from "../platform/kubernetes/cluster.js";
import {
  clusterSiteStatus,
  eventTime,
  LEASE_NAME,
  readClusterSnapshot,
} from "../platform/kubernetes/site-status.js";
import type { Spec } from "../spec/schema.js";
import type { SiteStatus } from "../status/site-status.js";
import { ADMIN_PORT, MYSQL_PORT } from "../topology/topology.js";
import { KubePartition } from "./kube-partition.js";
import { connectSql } from "../mysql/client.js";
import type { FaultPort, RunEvent, WritableProbes } from "./faults.js";
import { databasePods } from "./site-waits.js";
import { Writable } from "node:stream";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/**
 * The fault port of a site on Kubernetes: only what a cluster user has (the API: delete a pod, scale,
 * read the site's objects and the controller's Events, `exec` into the site's own containers, add a
 * NetworkPolicy). Its clients reach the site by the Services' cluster addresses and the pods'
 * addresses, which a cluster node or a pod reaches (see README, Chaos on Kubernetes). The local-only
 * faults (the supervisor, every process at once, the cores saturated) are not offered here.
 */
export class KubeFaults implements FaultPort {
  readonly target = "kubernetes";
  /** Each look at the Events is an API call: 10 a second at most. */
  readonly eventPollMs = 100;
  private readonly core: CoreV1Api;
  private readonly partition: KubePartition;
  private partitionProblem: string | null = "the site's NetworkPolicies were not read yet";
  private readonly apps: AppsV1Api;
  private readonly coordination: CoordinationV1Api;
  private serviceAddresses: { mysqlPrimary: string; http: string | null } | null = null;

  constructor(
    private readonly kc: KubeConfig,
    private readonly spec: Spec,
    private readonly namespace: string,
    private readonly log: (line: string) => void,
    private readonly sleep: (ms: number) => Promise<void>,
    /** The site's admin account (from its Secret), for the faults that speak SQL. */
    private readonly admin: { user: string; password: string },
    private readonly timeoutMs = 300_000,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.partition = new KubePartition(this.core, kc.makeApiClient(NetworkingV1Api), spec.name, namespace);
  }

  /** The site's status, its endpoints the Services' cluster addresses (no cluster DNS needed). */
  async status(): Promise<SiteStatus> {
    const snapshot = await readClusterSnapshot(this.kc, this.spec.name, this.namespace);
    const status = clusterSiteStatus(this.spec, snapshot, new Date());
    if (!status.running) throw new HapressError(`no site ${this.spec.name} in namespace ${this.namespace}`);
    const addresses = await this.resolveServices();
    return {
      ...status,
      endpoints: {
        ...status.endpoints,
        mysqlPrimary: addresses.mysqlPrimary,
        ...(addresses.http ? { http: addresses.http } : {}),
      },
    };
  }

  private async resolveServices(): Promise<{ mysqlPrimary: string; http: string | null }> {
    if (this.serviceAddresses) return this.serviceAddresses;
    const clusterIp = async (name: string): Promise<string | null> => {
      try {
        const service = await this.core.readNamespacedService({ name, namespace: this.namespace });
        return service.spec?.clusterIP ?? null;
      } catch (error) {
        if (apiStatus(error) === 404) return null;
        throw new HapressError(`cannot read Service ${name}: ${apiMessage(error)}`, { cause: error });
      }
    };
    const [primary, web] = await Promise.all([clusterIp("mysql-primary"), clusterIp("wordpress")]);
    if (!primary) throw new HapressError(`no Service mysql-primary in namespace ${this.namespace}`);
    this.serviceAddresses = {
      mysqlPrimary: `${primary}:${MYSQL_PORT}`,
      http: web ? `http://${web}` : null,
    };
    return this.serviceAddresses;
  }

  async events(since: number): Promise<RunEvent[]> {
    const list = await this.core.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: "source=hapress-controller",
    });
    return list.items
      .map((e: CoreV1Event) => ({ time: eventTime(e), kind: e.reason ?? "", message: e.message ?? "" }))
      .filter((e) => Date.parse(e.time) >= since)
      .sort((a, b) => a.time.localeCompare(b.time));
  }

  writableProbes(status: SiteStatus): WritableProbes {
    return {
      instances: databasePods(status)
        .filter((p) => p.address !== "")
        .map((p) => ({ name: p.name, endpoint: { host: p.address, port: ADMIN_PORT } })),
    };
  }

  async endReplicationStreams(pod: string): Promise<number> {
    const address = (await this.readPod(pod))?.status?.podIP;
    if (!address) throw new HapressError(`${pod} has no address`);
    const session = await connectSql({ host: address, port: ADMIN_PORT }, this.admin, {
      connectTimeoutMs: 2_000,
    });
    try {
      const streams = await session.query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'",
      );
      for (const row of streams) await session.query(`KILL CONNECTION ${Number(row.ID)}`);
      return streams.length;
    } finally {
      await session.close();
    }
  }

  /** Returns once the pod that was deleted is gone (its name may already hold the new pod). */
  async deletePod(pod: string, options: { force: boolean }): Promise<void> {
    const uid = await this.podUid(pod);
    if (uid === null) throw new HapressError(`no pod ${pod} in namespace ${this.namespace}`);
    await this.core
      .deleteNamespacedPod({
        name: pod,
        namespace: this.namespace,
        ...(options.force ? { gracePeriodSeconds: 0 } : {}),
      })
      .catch((error: unknown) => {
        throw new HapressError(`cannot delete pod ${pod}: ${apiMessage(error)}`, { cause: error });
      });
    const polls = Math.ceil(this.timeoutMs / 200);
    for (let poll = 0; poll < polls; poll++) {
      if ((await this.podUid(pod)) !== uid) return;
      await this.sleep(200);
    }
    throw new HapressError(
      `pod ${pod} still there ${Math.round(this.timeoutMs / 1000)} s after its deletion`,
    );
  }

  private async podUid(pod: string): Promise<string | null> {
    return (await this.readPod(pod))?.metadata?.uid ?? null;
  }

  /** The pod as the API has it now; null when there is none of that name. */
  private async readPod(pod: string): Promise<V1Pod | null> {
    try {
      return await this.core.readNamespacedPod({ name: pod, namespace: this.namespace });
    } catch (error) {
      if (apiStatus(error) === 404) return null;
      throw new HapressError(`cannot read pod ${pod}: ${apiMessage(error)}`, { cause: error });
    }
  }

  async leadingController(): Promise<string> {
    const lease = await this.coordination.readNamespacedLease({
      name: LEASE_NAME,
      namespace: this.namespace,
    });
    // The holder is `<pod>_<random>` (a restarted container is a new candidate).
    const holder = lease.spec?.holderIdentity ?? "";
    if (!holder) throw new HapressError("no controller holds the lease");
    return holder.replace(/_[0-9a-f]+$/, "");
  }

  /** `kubectl scale`, then waits (bounded) until that many pods of the tier are ready. */
  async scale(tier: "mysql" | "wordpress", replicas: number): Promise<void> {
    const body = { spec: { replicas } };
    try {
      if (tier === "mysql")
        await this.apps.patchNamespacedStatefulSetScale(
          { name: "mysql", namespace: this.namespace, body },
          mergePatch,
        );
      else
        await this.apps.patchNamespacedDeploymentScale(
          { name: "wordpress", namespace: this.namespace, body },
          mergePatch,
        );
    } catch (error) {
      throw new HapressError(`cannot scale ${tier} to ${replicas}: ${apiMessage(error)}`, { cause: error });
    }
    this.log(`scaled ${tier} to ${replicas}; waiting for its pods`);
    const polls = Math.ceil(this.timeoutMs / 500);
    let last = "";
    for (let poll = 0; poll < polls; poll++) {
      try {
        const pods = (await this.status()).pods.filter((p) => p.component === tier);
        if (pods.length === replicas && pods.every((p) => p.ready)) return;
        last = pods.map((p) => `${p.name}${p.ready ? "" : " (not ready)"}`).join(", ");
      } catch (error) {
        last = errorMessage(error);
      }
      await this.sleep(500);
    }
    throw new HapressError(
      `${tier} did not reach ${replicas} ready pod(s) in ${Math.round(this.timeoutMs / 1000)} s (last: ${last})`,
    );
  }

  async switchover(to: string | null): Promise<void> {
    // Loaded here: the request store is the CLI's, and most runs never switch over.
    const { ClusterSwitchoverStore } = await import("../platform/kubernetes/cluster-switchover.js");
    const { requestSwitchover } = await import("../state/switchover-client.js");
    await requestSwitchover(new ClusterSwitchoverStore(this.core, this.namespace), {
      to,
      deadlineMs: 10_000,
      onStep: this.log,
      pollMs: 100,
      sleep: this.sleep,
    });
  }

  private unsupported(fault: string): Promise<never> {
    return Promise.reject(
      new HapressError(`${fault}: not a fault of the Kubernetes target (a local scenario's)`),
    );
  }

  /**
   * A signal to a database pod's mariadbd, sent from the pod's own `mariadb` container (`exec`, as a
   * user with `pods/exec` can): the pod shares one process namespace, so mariadbd is not PID 1 there.
   * SIGCONT to a pod already gone (fenced, deleted) has nothing left to continue: said, not an error.
   */
  async signalPod(pod: string, signal: NodeJS.Signals): Promise<void> {
    const found = (await this.status()).pods.find((p) => p.name === pod);
    if (found?.component !== "mysql")
      throw new HapressError(
        `${signal} to ${pod}: on Kubernetes only a database pod's mariadbd is signalled (delete a WordPress pod instead)`,
      );
    // No procps in the image: mariadbd is found by name in /proc, and signalled by the shell's kill.
    const script = `n=0; for p in /proc/[0-9]*; do if [ "$(cat "$p/comm" 2>/dev/null)" = mariadbd ]; then kill -${signal.replace(/^SIG/, "")} "\${p#/proc/}" && n=$((n+1)); fi; done; echo "$n"`;
    const before = signal === "SIGKILL" ? await this.mariadbContainer(pod) : null;
    let signalled: number;
    try {
      signalled = Number((await this.exec(pod, "mariadb", ["sh", "-c", script])).trim());
    } catch (error) {
      // mariadbd is the container's main process: once it dies the runtime kills what else runs
      // in the container, the exec'd shell too, which may not have printed its count yet (exit
      // 137). The kill then did land, as the container's new run or its end shows.
      if (before && /exit code 137\b/.test(errorMessage(error)) && (await this.containerEnded(pod, before))) {
        this.log(`SIGKILL to ${pod}: its mariadb container ended with mariadbd (the exec with it)`);
        return;
      }
      if (signal !== "SIGCONT") throw error;
      this.log(`SIGCONT to ${pod}: nothing to continue (${errorMessage(error)})`);
      return;
    }
    if (signalled === 0 && signal !== "SIGCONT")
      throw new HapressError(`${signal} to ${pod}: no mariadbd running in its mariadb container`);
  }

  /** The run of a pod's mariadb container now: its id, restarts, whether it runs (null: the pod is gone). */
  private async mariadbContainer(
    pod: string,
  ): Promise<{ id: string; restarts: number; running: boolean } | null> {
    const found = await this.readPod(pod);
    if (!found) return null;
    const container = found.status?.containerStatuses?.find((c) => c.name === "mariadb");
    return {
      id: container?.containerID ?? "",
      restarts: container?.restartCount ?? 0,
      running: container?.state?.running !== undefined,
    };
  }

  /**
   * Whether the mariadb container's run seen before has ended: the pod gone, its container
   * restarted, or stopped (bounded: 100 looks, 100 ms apart, for the kubelet to report it).
   */
  private async containerEnded(pod: string, before: { id: string; restarts: number }): Promise<boolean> {
    for (let look = 0; look < 100; look++) {
      const now = await this.mariadbContainer(pod);
      if (!now || now.restarts > before.restarts || now.id !== before.id || !now.running) return true;
      await this.sleep(100);
    }
    return false;
  }

  /** Runs a command in a container (bounded: 20 s); its standard output, or an error with its output. */
  private async exec(pod: string, container: string, command: string[]): Promise<string> {
    let stdout = "";
    let stderr = "";
    const sink = (append: (text: string) => void) =>
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          append(chunk.toString("utf8"));
          done();
        },
      });
    const result = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new HapressError(`exec in ${pod}/${container}: no answer in 20 s`)),
        20_000,
      );
      new Exec(this.kc)
        .exec(
          this.namespace,
          pod,
          container,
          command,
          sink((t) => (stdout += t)),
          sink((t) => (stderr += t)),
          null,
          false,
          (status) => {
            clearTimeout(timer);
            if (status.status === "Success") resolve(stdout);
            else
              reject(
                new HapressError(
                  `exec in ${pod}/${container} failed: ${status.message ?? status.reason ?? "?"} ${stderr.trim()}`,
                ),
              );
          },
        )
        .catch((error: unknown) => {
          clearTimeout(timer);
          reject(new HapressError(`exec in ${pod}/${container}: ${apiMessage(error)}`, { cause: error }));
        });
    });
    return result;
  }

  signalController(signal: NodeJS.Signals): Promise<void> {
    return this.unsupported(`${signal} to the controller`);
  }

  signalSupervisor(): Promise<void> {
    return this.unsupported("the supervisor (there is none on Kubernetes)");
  }

  killSite(): Promise<void> {
    return this.unsupported("every process killed");
  }

  up(): Promise<void> {
    return this.unsupported("hapress up");
  }

  saturate(): { stop: () => Promise<void> } {
    throw new HapressError("saturating the cores: not a fault of the Kubernetes target");
  }

  partitionUnsupported(): string | null {
    return this.partitionProblem;
  }

  /** Whether a pod can be cut off here (see KubePartition.problem), read once before the runs. */
  async readPartitionSupport(): Promise<void> {
    this.partitionProblem = await this.partition.problem();
  }

  async isolate(pod: string): Promise<{ heal: () => Promise<void> }> {
    if ((await this.podUid(pod)) === null)
      throw new HapressError(`no pod ${pod} in namespace ${this.namespace}`);
    await this.partition.isolate(pod);
    return { heal: () => this.partition.heal() };
  }
}

// Test node only (not a product feature): plays the kubelet for the database tier, so real pods made by
// the real controller manager can run without a container runtime. It registers a Node and keeps its
// Lease, provisions a host-folder PersistentVolume for each pending claim, and runs each pod bound to
// it: a network namespace with its own address (pod-network.ts), each container as local processes
// (run-container.sh: own mount and UTS namespaces, the pod's volumes at their mount paths), images
// mapped to local programs, environment from the referenced Secret/ConfigMap keys, init containers in
// order, restartPolicy (a Job's pod ends Succeeded or Failed), exec, TCP and HTTP probes, status reported to the API server, and graceful deletion.
// Names resolve as Kubernetes DNS would for the processes it runs: each pod's hosts file lists the pods'
// headless names and, standing in for kube-proxy, each ClusterIP Service's first ready endpoint.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { request as httpRequest } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { sleep } from "../../src/util/process.js";
import { repoRoot } from "../helpers/site.js";
import { KubeApiError, type KubeClient, type KubeObject } from "./client.js";
import { PodNetwork } from "./pod-network.js";

const NODE_NAME = "hapress-test-node";
const RUN_CONTAINER = join(repoRoot, "test", "kube", "run-container.sh");
const MARIADB_ENTRYPOINT = join(repoRoot, "images", "mariadb", "docker-entrypoint.sh");
const CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

type Env = Record<string, string>;

interface Probe {
  exec?: { command: string[] };
  tcpSocket?: { port: number | string };
  httpGet?: { path?: string; port: number | string };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
  initialDelaySeconds?: number;
}

interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: {
      secretKeyRef?: { name: string; key: string };
      configMapKeyRef?: { name: string; key: string };
      fieldRef?: { fieldPath: string };
    };
  }[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  workingDir?: string;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
}

interface PodSpec {
  hostname?: string;
  subdomain?: string;
  restartPolicy?: string;
  serviceAccountName?: string;
  initContainers?: ContainerSpec[];
  containers: ContainerSpec[];
  securityContext?: { fsGroup?: number };
  volumes?: {
    name: string;
    emptyDir?: object;
    configMap?: {
      name: string;
      defaultMode?: number;
      items?: { key: string; path: string; mode?: number }[];
    };
    secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
    persistentVolumeClaim?: { claimName: string };
    projected?: { defaultMode?: number; sources: ProjectedSource[] };
  }[];
}

/** The sources of the service-account volume the ServiceAccount admission plugin adds to pods. */
interface ProjectedSource {
  serviceAccountToken?: { path: string; expirationSeconds?: number; audience?: string };
  configMap?: { name: string; items?: { key: string; path: string }[] };
  downwardAPI?: { items: { path: string; fieldRef?: { fieldPath: string } }[] };
}

/** The port the relay for the `kubernetes` Service listens on, on the bridge's host address. */
const API_RELAY_PORT = 443;
const API_SERVICE_NAMES = [
  "kubernetes",
  "kubernetes.default",
  "kubernetes.default.svc",
  "kubernetes.default.svc.cluster.local",
];

interface ContainerState {
  spec: ContainerSpec;
  process: ChildProcess | null;
  restartCount: number;
  startedAt: string | null;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
  nextStartAt: number;
  started: boolean;
  ready: boolean;
  probeAt: { startup: number; readiness: number; liveness: number };
  failures: { startup: number; readiness: number; liveness: number };
  probing: boolean;
}

interface RunningPod {
  uid: string;
  name: string;
  namespace: string;
  object: KubeObject;
  spec: PodSpec;
  dir: string;
  netns: string;
  address: string;
  initIndex: number;
  init: ContainerState[];
  containers: ContainerState[];
  volumePaths: Map<string, string>;
  env: Map<string, Env>;
  terminating: boolean;
  /** What its hosts file holds now. */
  hostsText: string;
  startTime: string;
  lastReported: string;
}

function containerState(spec: ContainerSpec): ContainerState {
  return {
    spec,
    process: null,
    restartCount: 0,
    startedAt: null,
    lastExit: null,
    nextStartAt: 0,
    started: false,
    ready: false,
    probeAt: { startup: 0, readiness: 0, liveness: 0 },
    failures: { startup: 0, readiness: 0, liveness: 0 },
    probing: false,
  };
}

function running(state: ContainerState): boolean {
  return state.process !== null && state.process.exitCode === null && state.process.signalCode === null;
}

/** Kubernetes' $(VAR) expansion in commands, args and env values. */
function expand(text: string, env: Env): string {
  return text.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
}

/** The test node's image mapping: an image name to the local program its entrypoint would run. */
function entrypointFor(image: string): string[] {
  if (/(^|\/)hapress(:|$)/.test(image)) return [process.execPath, join(repoRoot, "bin", "hapress")];
  if (/(^|\/)mariadb(:|$)/.test(image)) return [MARIADB_ENTRYPOINT, "mariadbd"];
  throw new Error(`the test node has no local program for image ${image}`);
}

export class TestNode {
  private readonly pods = new Map<string, RunningPod>();
  private readonly network = new PodNetwork();
  private stopping = false;
  private loop: Promise<void> | null = null;
  private lastHeartbeat = 0;
  private apiRelay: Server | null = null;
  private readonly relayed = new Set<Socket>();
  /** Errors of the sync loop, for a test to show when something never happens. */
  readonly errors: string[] = [];

  /** `namespaces`: the only namespaces whose pods this node runs (others stay Pending). */
  constructor(
    private readonly api: KubeClient,
    readonly dir: string,
    private readonly namespaces: string[],
  ) {}

  get name(): string {
    return NODE_NAME;
  }

  /** Registers the Node, makes the pod network, and starts the sync loop. */
  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    this.network.setUp();
    await this.startApiRelay();
    await this.api.call("POST", "/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: NODE_NAME,
        labels: { "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux" },
      },
    });
    await this.heartbeat();
    this.loop = this.run();
  }

  /** The hosts-file line that sends the `kubernetes` Service's names to this node's relay. */
  private apiServiceLine(): string {
    return `${this.network.hostAddress} ${API_SERVICE_NAMES.join(" ")}`;
  }

  /** kube-proxy's part for the `kubernetes` Service: pods reach the API server through the bridge. */
  private async startApiRelay(): Promise<void> {
    const target = new URL(this.api.server);
    const relay = createServer((inbound) => {
      const outbound = connect({ host: target.hostname, port: Number(target.port) });
      this.relayed.add(inbound).add(outbound);
      const close = () => {
        inbound.destroy();
        outbound.destroy();
        this.relayed.delete(inbound);
        this.relayed.delete(outbound);
      };
      inbound.on("error", close).on("close", close);
      outbound.on("error", close).on("close", close);
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
      relay.once("error", reject);
      relay.listen(API_RELAY_PORT, this.network.hostAddress, resolve);
    });
    this.apiRelay = relay;
  }

  private async heartbeat(): Promise<void> {
    const now = new Date().toISOString();
    const capacity = { cpu: "16", memory: "64Gi", pods: "110", "ephemeral-storage": "100Gi" };
    await this.api.call(
      "PATCH",
      `/api/v1/nodes/${NODE_NAME}/status`,
      {
        status: {
          capacity,
          allocatable: capacity,
          addresses: [
            { type: "InternalIP", address: this.network.hostAddress },
            { type: "Hostname", address: NODE_NAME },
          ],
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "KubeletReady",
              message: "hapress test node",
              lastHeartbeatTime: now,
              lastTransitionTime: now,
            },
          ],
          nodeInfo: {
            kubeletVersion: "v1.34.4",
            kubeProxyVersion: "",
            operatingSystem: "linux",
            architecture: "amd64",
            containerRuntimeVersion: "hapress-test-node://0",
            kernelVersion: "",
            osImage: "",
            machineID: "",
            systemUUID: "",
            bootID: "",
          },
        },
      },
      "application/strategic-merge-patch+json",
    );
    const lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: NODE_NAME, namespace: "kube-node-lease" },
      spec: {
        holderIdentity: NODE_NAME,
        leaseDurationSeconds: 40,
        renewTime: new Date().toISOString().replace("Z", "000Z"),
      },
    };
    await this.api.apply(lease, { fieldManager: "hapress-test-node" });
    this.lastHeartbeat = Date.now();
  }

  private noteError(error: unknown): void {
    this.errors.push(String(error));
    if (this.errors.length > 50) this.errors.shift();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (Date.now() - this.lastHeartbeat > 10_000) await this.heartbeat();
        await this.provisionVolumes();
        await this.syncPods();
      } catch (error) {
        this.noteError(error);
      }
      await sleep(500);
    }
  }

  /** A host-folder PersistentVolume for every pending claim, bound to it by the real PV controller. */
  private async provisionVolumes(): Promise<void> {
    const claims = await this.api.list("/api/v1/persistentvolumeclaims");
    for (const claim of claims) {
      const spec = claim.spec as {
        volumeName?: string;
        accessModes?: string[];
        storageClassName?: string;
        resources?: { requests?: { storage?: string } };
      };
      if (!this.namespaces.includes(claim.metadata.namespace ?? "")) continue;
      if (spec.volumeName || (claim.status as { phase?: string } | undefined)?.phase !== "Pending") continue;
      const uid = claim.metadata.uid ?? "";
      const path = join(this.dir, "volumes", uid);
      mkdirSync(path, { recursive: true });
      try {
        await this.api.call("POST", "/api/v1/persistentvolumes", {
          apiVersion: "v1",
          kind: "PersistentVolume",
          metadata: { name: `test-node-${uid}` },
          spec: {
            capacity: { storage: spec.resources?.requests?.storage ?? "1Gi" },
            accessModes: spec.accessModes ?? ["ReadWriteOnce"],
            storageClassName: spec.storageClassName ?? "",
            persistentVolumeReclaimPolicy: "Retain",
            hostPath: { path, type: "Directory" },
            claimRef: { namespace: claim.metadata.namespace, name: claim.metadata.name, uid },
          },
        });
      } catch (error) {
        if (!(error instanceof KubeApiError && error.status === 409)) throw error;
      }
    }
  }

  private async syncPods(): Promise<void> {
    const listed = await this.api.list(`/api/v1/pods?fieldSelector=spec.nodeName%3D${NODE_NAME}`);
    const seen = new Set<string>();
    for (const object of listed) {
      const uid = object.metadata.uid ?? "";
      seen.add(uid);
      if (!this.namespaces.includes(object.metadata.namespace ?? "")) {
        // Not ours to run; deleted ones are let go. One pod's error must not stall every other pod.
        if (object.metadata.deletionTimestamp)
          await this.finalDelete(object).catch((error: unknown) => this.noteError(error));
        continue;
      }
      let pod = this.pods.get(uid);
      if (!pod && !object.metadata.deletionTimestamp) pod = await this.admit(object);
      if (!pod) {
        // Being deleted before it ever ran here: nothing to stop.
        await this.finalDelete(object);
        continue;
      }
      pod.object = object;
      if (object.metadata.deletionTimestamp && !pod.terminating) void this.terminate(pod);
    }
    for (const pod of this.pods.values()) {
      if (!seen.has(pod.uid) && !pod.terminating) void this.terminate(pod, true);
    }
    await this.writeHostsFiles(listed);
    for (const pod of this.pods.values()) {
      if (pod.terminating) continue;
      this.advance(pod);
      await this.report(pod).catch((error: unknown) => this.noteError(error));
    }
  }

  /** Sets up a new pod: network, volumes, environment. Its containers start in `advance`. */
  private async admit(object: KubeObject): Promise<RunningPod> {
    const uid = object.metadata.uid ?? "";
    const spec = object.spec as unknown as PodSpec;
    const dir = join(this.dir, "pods", uid);
    mkdirSync(join(dir, "logs"), { recursive: true });
    const { netns, address } = this.network.add(uid);
    writeFileSync(join(dir, "hosts"), `127.0.0.1 localhost\n${this.apiServiceLine()}\n`);
    writeFileSync(
      join(dir, "resolv.conf"),
      "# no DNS server: names come from the hosts file\nnameserver 127.0.0.1\n",
    );
    const pod: RunningPod = {
      uid,
      name: object.metadata.name,
      namespace: object.metadata.namespace ?? "default",
      object,
      spec,
      dir,
      netns,
      address,
      initIndex: 0,
      init: (spec.initContainers ?? []).map(containerState),
      containers: spec.containers.map(containerState),
      volumePaths: new Map(),
      env: new Map(),
      terminating: false,
      hostsText: "",
      startTime: new Date().toISOString(),
      lastReported: "",
    };
    this.pods.set(uid, pod);
    await this.prepareVolumes(pod);
    for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
      pod.env.set(container.name, await this.containerEnv(pod, container));
    }
    return pod;
  }

  private async prepareVolumes(pod: RunningPod): Promise<void> {
    const fsGroup = pod.spec.securityContext?.fsGroup;
    for (const volume of pod.spec.volumes ?? []) {
      const path = join(pod.dir, "volumes", volume.name);
      if (volume.persistentVolumeClaim) {
        const claim = await this.api.get(
          `/api/v1/namespaces/${pod.namespace}/persistentvolumeclaims/${volume.persistentVolumeClaim.claimName}`,
        );
        const volumeName = (claim.spec as { volumeName?: string }).volumeName;
        const pv = await this.api.get(`/api/v1/persistentvolumes/${volumeName}`);
        const hostPath = (pv.spec as { hostPath?: { path: string } }).hostPath?.path;
        if (!hostPath) throw new Error(`volume ${volumeName} is not one of the test node's`);
        pod.volumePaths.set(volume.name, hostPath);
        if (fsGroup !== undefined) chownSync(hostPath, 0, fsGroup);
        continue;
      }
      mkdirSync(path, { recursive: true });
      pod.volumePaths.set(volume.name, path);
      if (volume.emptyDir) {
        if (fsGroup !== undefined) chownSync(path, 0, fsGroup);
        chmodSync(path, 0o777);
      } else if (volume.configMap) {
        const cm = await this.api.get(
          `/api/v1/namespaces/${pod.namespace}/configmaps/${volume.configMap.name}`,
        );
        const data = (cm as { data?: Record<string, string> }).data ?? {};
        const items =
          volume.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key, mode: undefined }));
        for (const item of items) {
          const file = join(path, item.path);
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, data[item.key] ?? "");
          chmodSync(file, item.mode ?? volume.configMap.defaultMode ?? 0o644);
        }
      } else if (volume.projected) {
        for (const source of volume.projected.sources) await this.project(pod, path, source);
      } else if (volume.secret) {
        const secret = await this.api.get(
          `/api/v1/namespaces/${pod.namespace}/secrets/${volume.secret.secretName}`,
        );
        const data = (secret as { data?: Record<string, string> }).data ?? {};
        // Only the listed keys when items are given, as the kubelet does.
        const items = volume.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
        for (const item of items) {
          const value = data[item.key];
          if (value === undefined)
            throw new Error(`Secret ${volume.secret.secretName} has no key ${item.key}`);
          const file = join(path, item.path);
          writeFileSync(file, Buffer.from(value, "base64"));
          if (fsGroup !== undefined) chownSync(file, 0, fsGroup);
          chmodSync(file, volume.secret.defaultMode ?? 0o644);
        }
      }
    }
  }

  /** One source of a projected volume: a token bound to this pod, a ConfigMap's keys, the namespace. */
  private async project(pod: RunningPod, dir: string, source: ProjectedSource): Promise<void> {
    const write = (relative: string, content: string) => {
      const file = join(dir, relative);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content, { mode: 0o644 });
    };
    if (source.serviceAccountToken) {
      const account = pod.spec.serviceAccountName ?? "default";
      const review = await this.api.call<{ status: { token: string } }>(
        "POST",
        `/api/v1/namespaces/${pod.namespace}/serviceaccounts/${account}/token`,
        {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: {
            audiences: source.serviceAccountToken.audience ? [source.serviceAccountToken.audience] : [],
            expirationSeconds: source.serviceAccountToken.expirationSeconds ?? 3600,
            boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.name, uid: pod.uid },
          },
        },
      );
      write(source.serviceAccountToken.path, review.status.token);
    }
    if (source.configMap) {
      const cm = await this.api.get(
        `/api/v1/namespaces/${pod.namespace}/configmaps/${source.configMap.name}`,
      );
      const data = (cm as { data?: Record<string, string> }).data ?? {};
      for (const item of source.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key })))
        write(item.path, data[item.key] ?? "");
    }
    for (const item of source.downwardAPI?.items ?? []) {
      if (item.fieldRef?.fieldPath === "metadata.namespace") write(item.path, pod.namespace);
      else if (item.fieldRef?.fieldPath === "metadata.name") write(item.path, pod.name);
    }
  }

  private async containerEnv(pod: RunningPod, container: ContainerSpec): Promise<Env> {
    const env: Env = {
      PATH: CONTAINER_PATH,
      HOME: "/root",
      HOSTNAME: pod.spec.hostname ?? pod.name,
      // As a kubelet sets them: the `kubernetes` Service (the names resolve to this node's relay).
      KUBERNETES_SERVICE_HOST: "kubernetes.default.svc",
      KUBERNETES_SERVICE_PORT: String(API_RELAY_PORT),
    };
    const fields: Record<string, string> = {
      "status.podIP": pod.address,
      "metadata.name": pod.name,
      "metadata.namespace": pod.namespace,
      "spec.nodeName": NODE_NAME,
    };
    for (const variable of container.env ?? []) {
      const from = variable.valueFrom;
      if (from?.secretKeyRef) {
        const secret = await this.api.get(
          `/api/v1/namespaces/${pod.namespace}/secrets/${from.secretKeyRef.name}`,
        );
        const value = (secret as { data?: Record<string, string> }).data?.[from.secretKeyRef.key];
        if (value === undefined)
          throw new Error(`secret ${from.secretKeyRef.name} has no key ${from.secretKeyRef.key}`);
        env[variable.name] = Buffer.from(value, "base64").toString("utf8");
      } else if (from?.configMapKeyRef) {
        const cm = await this.api.get(
          `/api/v1/namespaces/${pod.namespace}/configmaps/${from.configMapKeyRef.name}`,
        );
        env[variable.name] = (cm as { data?: Record<string, string> }).data?.[from.configMapKeyRef.key] ?? "";
      } else if (from?.fieldRef) {
        env[variable.name] = fields[from.fieldRef.fieldPath] ?? "";
      } else {
        env[variable.name] = expand(variable.value ?? "", env);
      }
    }
    return env;
  }

  /** Starts what is due: init containers one after another, then every container; restarts by policy. */
  private advance(pod: RunningPod): void {
    const now = Date.now();
    const policy = pod.spec.restartPolicy ?? "Always";
    while (pod.initIndex < pod.init.length) {
      const state = pod.init[pod.initIndex];
      if (!state) break;
      if (state.lastExit?.code === 0 && !running(state)) {
        pod.initIndex++;
        continue;
      }
      if (!running(state) && now >= state.nextStartAt && policy !== "Never") this.startContainer(pod, state);
      return;
    }
    for (const state of pod.containers) {
      if (!running(state)) {
        const finished = state.lastExit !== null;
        const restart =
          !finished || policy === "Always" || (policy === "OnFailure" && state.lastExit?.code !== 0);
        if (restart && now >= state.nextStartAt) this.startContainer(pod, state);
        continue;
      }
      void this.probe(pod, state);
    }
  }

  private startContainer(pod: RunningPod, state: ContainerState): void {
    const spec = state.spec;
    const env = pod.env.get(spec.name) ?? {};
    const entrypoint = spec.command ?? entrypointFor(spec.image);
    const command = [...entrypoint, ...(spec.args ?? [])].map((part) => expand(part, env));
    const mounts = (spec.volumeMounts ?? []).map((mount) => {
      let source = pod.volumePaths.get(mount.name) ?? "";
      if (mount.subPath) {
        source = join(source, mount.subPath);
        if (!existsSync(source)) mkdirSync(source, { recursive: true });
      }
      return `${source}|${mount.mountPath}|${mount.readOnly ? "ro" : "rw"}`;
    });
    const scratch = join(pod.dir, "scratch", `${spec.name}-${state.restartCount}-${Date.now()}`);
    mkdirSync(scratch, { recursive: true });
    const logFd = openSync(join(pod.dir, "logs", `${spec.name}.log`), "a");
    const child = spawn(
      "nsenter",
      [`--net=/run/netns/${pod.netns}`, "--", "unshare", "--mount", "--uts", "--propagation", "private", "--",
        "bash", RUN_CONTAINER, ...command], // prettier-ignore
      {
        detached: true,
        stdio: ["ignore", logFd, logFd],
        env: {
          ...env,
          // Marks the container's processes for the no-orphan check (they run chrooted, elsewhere).
          HAPRESS_TEST_NODE_POD: pod.dir,
          HPK_SCRATCH: scratch,
          HPK_HOSTNAME: pod.spec.hostname ?? pod.name,
          HPK_HOSTS: join(pod.dir, "hosts"),
          HPK_RESOLV: join(pod.dir, "resolv.conf"),
          HPK_WORKDIR: spec.workingDir ?? "/",
          HPK_MOUNTS: mounts.join("\n"),
        },
      },
    );
    closeSync(logFd);
    child.on("error", () => undefined);
    state.process = child;
    state.startedAt = new Date().toISOString();
    state.started = !spec.startupProbe;
    state.ready = false;
    state.failures = { startup: 0, readiness: 0, liveness: 0 };
    const delay = (spec.startupProbe ?? spec.readinessProbe)?.initialDelaySeconds ?? 0;
    state.probeAt = {
      startup: Date.now() + delay * 1000,
      readiness: Date.now() + delay * 1000,
      liveness: Date.now() + (spec.livenessProbe?.initialDelaySeconds ?? 0) * 1000,
    };
    child.on("exit", (code, signal) => {
      state.lastExit = { code, signal, at: new Date().toISOString() };
      state.ready = false;
      if (code !== 0 || pod.init.includes(state) === false) {
        state.restartCount++;
        // CrashLoopBackOff, shortened for tests: 1 s doubling to 8 s.
        state.nextStartAt = Date.now() + Math.min(8000, 1000 * 2 ** Math.min(3, state.restartCount - 1));
      }
    });
  }

  /** Runs the container's due probes: startup until it succeeds, then readiness and liveness. */
  private async probe(pod: RunningPod, state: ContainerState): Promise<void> {
    if (state.probing) return;
    state.probing = true;
    try {
      const now = Date.now();
      const { startupProbe, readinessProbe, livenessProbe } = state.spec;
      if (!state.started && startupProbe) {
        if (now < state.probeAt.startup) return;
        state.probeAt.startup = now + (startupProbe.periodSeconds ?? 10) * 1000;
        if (await this.check(pod, state, startupProbe)) state.started = true;
        else if (++state.failures.startup >= (startupProbe.failureThreshold ?? 3)) this.kill(state);
        return;
      }
      if (readinessProbe && now >= state.probeAt.readiness) {
        state.probeAt.readiness = now + (readinessProbe.periodSeconds ?? 10) * 1000;
        const ok = await this.check(pod, state, readinessProbe);
        state.failures.readiness = ok ? 0 : state.failures.readiness + 1;
        if (ok) state.ready = true;
        else if (state.failures.readiness >= (readinessProbe.failureThreshold ?? 3)) state.ready = false;
      } else if (!readinessProbe) {
        state.ready = true;
      }
      if (livenessProbe && now >= state.probeAt.liveness) {
        state.probeAt.liveness = now + (livenessProbe.periodSeconds ?? 10) * 1000;
        const ok = await this.check(pod, state, livenessProbe);
        state.failures.liveness = ok ? 0 : state.failures.liveness + 1;
        if (state.failures.liveness >= (livenessProbe.failureThreshold ?? 3)) this.kill(state);
      }
    } finally {
      state.probing = false;
    }
  }

  private check(pod: RunningPod, state: ContainerState, probe: Probe): Promise<boolean> {
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    const pid = state.process?.pid;
    if (!pid || !running(state)) return Promise.resolve(false);
    if (probe.exec) {
      return new Promise((resolve) => {
        execFile(
          "nsenter",
          [
            "--target",
            String(pid),
            "--mount",
            "--uts",
            "--net",
            "--root",
            "--wd",
            "--",
            ...probe.exec!.command,
          ],
          { timeout: timeoutMs, env: pod.env.get(state.spec.name) },
          (error) => resolve(!error),
        );
      });
    }
    if (probe.tcpSocket) {
      const named = state.spec.ports?.find((p) => p.name === probe.tcpSocket!.port)?.containerPort;
      const port = typeof probe.tcpSocket.port === "number" ? probe.tcpSocket.port : named;
      return new Promise((resolve) => {
        const socket = connect({ host: pod.address, port: port ?? 0, timeout: timeoutMs });
        const done = (ok: boolean) => {
          socket.destroy();
          resolve(ok);
        };
        socket.on("connect", () => done(true));
        socket.on("timeout", () => done(false));
        socket.on("error", () => done(false));
      });
    }
    if (probe.httpGet) {
      const named = state.spec.ports?.find((p) => p.name === probe.httpGet!.port)?.containerPort;
      const port = typeof probe.httpGet.port === "number" ? probe.httpGet.port : named;
      return new Promise((resolve) => {
        // Settled exactly once, whichever comes first; a probe that never settled would block every
        // later probe of this container.
        let settled = false;
        const settle = (ok: boolean) => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          request.destroy();
          resolve(ok);
        };
        const deadline = setTimeout(() => settle(false), timeoutMs);
        const request = httpRequest(
          { host: pod.address, port: port ?? 0, path: probe.httpGet!.path ?? "/" },
          (response) => {
            response.resume();
            const status = response.statusCode ?? 0;
            settle(status >= 200 && status < 400);
          },
        );
        request.on("error", () => settle(false));
        request.on("close", () => settle(false));
        request.end();
      });
    }
    return Promise.resolve(true);
  }

  private kill(state: ContainerState, signal: NodeJS.Signals = "SIGKILL"): void {
    const pid = state.process?.pid;
    if (!pid || !running(state)) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  /** The status the kubelet would report, patched only when it changes. */
  private async report(pod: RunningPod): Promise<void> {
    const now = new Date().toISOString();
    const initialized = pod.initIndex >= pod.init.length;
    const allReady = initialized && pod.containers.every((c) => running(c) && c.ready);
    // A Job's pod is done when its containers have exited for good under its restart policy.
    const policy = pod.spec.restartPolicy ?? "Always";
    const exitedOk = (c: ContainerState) => !running(c) && c.lastExit?.code === 0;
    const finished =
      initialized &&
      policy !== "Always" &&
      pod.containers.every((c) => !running(c) && c.lastExit !== null) &&
      (policy === "Never" || pod.containers.every(exitedOk));
    const statusOf = (state: ContainerState, init: boolean) => {
      let containerStatus: Record<string, unknown>;
      if (running(state)) containerStatus = { running: { startedAt: state.startedAt } };
      else if (!init && finished && state.lastExit)
        containerStatus = {
          terminated: {
            exitCode: state.lastExit.code ?? 137,
            reason: state.lastExit.code === 0 ? "Completed" : "Error",
            startedAt: state.startedAt,
            finishedAt: state.lastExit.at,
          },
        };
      else if (init && state.lastExit?.code === 0)
        containerStatus = {
          terminated: {
            exitCode: 0,
            reason: "Completed",
            startedAt: state.startedAt,
            finishedAt: state.lastExit.at,
          },
        };
      else if (state.lastExit) containerStatus = { waiting: { reason: "CrashLoopBackOff" } };
      else
        containerStatus = {
          waiting: { reason: initialized || init ? "ContainerCreating" : "PodInitializing" },
        };
      return {
        name: state.spec.name,
        image: state.spec.image,
        imageID: `test-node://${state.spec.image}`,
        ready: !init && running(state) && state.ready,
        started: running(state) && state.started,
        restartCount: state.restartCount,
        state: containerStatus,
        ...(state.lastExit
          ? {
              lastState: {
                terminated: {
                  exitCode: state.lastExit.code ?? 137,
                  reason: state.lastExit.signal ?? "Error",
                  finishedAt: state.lastExit.at,
                },
              },
            }
          : {}),
      };
    };
    const condition = (type: string, ok: boolean) => ({ type, status: ok ? "True" : "False" });
    const status = {
      phase: finished
        ? pod.containers.every(exitedOk)
          ? "Succeeded"
          : "Failed"
        : pod.containers.some((c) => c.startedAt)
          ? "Running"
          : "Pending",
      hostIP: this.network.hostAddress,
      hostIPs: [{ ip: this.network.hostAddress }],
      podIP: pod.address,
      podIPs: [{ ip: pod.address }],
      startTime: pod.startTime,
      conditions: [
        condition("PodScheduled", true),
        condition("Initialized", initialized),
        condition("ContainersReady", allReady),
        condition("Ready", allReady),
      ],
      initContainerStatuses: pod.init.map((s) => statusOf(s, true)),
      containerStatuses: pod.containers.map((s) => statusOf(s, false)),
    };
    const key = JSON.stringify(status);
    if (key === pod.lastReported) return;
    const conditions = status.conditions.map((c) => ({ ...c, lastTransitionTime: now, lastProbeTime: null }));
    await this.api.call(
      "PATCH",
      `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}/status`,
      { metadata: { uid: pod.uid }, status: { ...status, conditions } },
      "application/strategic-merge-patch+json",
    );
    pod.lastReported = key;
  }

  /** Graceful deletion: SIGTERM, the grace period, SIGKILL, then the final delete and the network. */
  private async terminate(pod: RunningPod, alreadyGone = false): Promise<void> {
    pod.terminating = true;
    const states = [...pod.init, ...pod.containers].filter(running);
    const grace = Math.min(pod.object.metadata.deletionGracePeriodSeconds ?? 30, 60) * 1000;
    for (const state of states) this.kill(state, "SIGTERM");
    const deadline = Date.now() + grace;
    while (states.some(running) && Date.now() < deadline) await sleep(100);
    for (const state of states) this.kill(state, "SIGKILL");
    for (let i = 0; i < 100 && states.some(running); i++) await sleep(100);
    this.network.remove(pod.uid, pod.netns);
    this.pods.delete(pod.uid);
    if (!alreadyGone)
      await this.finalDelete(pod.object).catch((error: unknown) => this.errors.push(String(error)));
  }

  private async finalDelete(object: KubeObject): Promise<void> {
    try {
      await this.api.call(
        "DELETE",
        `/api/v1/namespaces/${object.metadata.namespace}/pods/${object.metadata.name}`,
        {
          apiVersion: "v1",
          kind: "DeleteOptions",
          gracePeriodSeconds: 0,
          preconditions: { uid: object.metadata.uid },
        },
      );
    } catch (error) {
      if (!(error instanceof KubeApiError && (error.status === 404 || error.status === 409))) throw error;
    }
  }

  /** Every pod's hosts file: pods by their headless names, ClusterIP Services by a ready endpoint. */
  private async writeHostsFiles(listed: KubeObject[]): Promise<void> {
    if (this.pods.size === 0) return;
    const lines: { namespace: string; address: string; names: string[] }[] = [];
    for (const object of listed) {
      const pod = this.pods.get(object.metadata.uid ?? "");
      const spec = object.spec as unknown as PodSpec;
      if (!pod || !spec.hostname || !spec.subdomain) continue;
      const base = `${spec.hostname}.${spec.subdomain}.${pod.namespace}`;
      lines.push({
        namespace: pod.namespace,
        address: pod.address,
        names: [`${base}.svc.cluster.local`, `${base}.svc`, base],
      });
    }
    const services = await this.api.list("/api/v1/services");
    const slices = await this.api.list("/apis/discovery.k8s.io/v1/endpointslices");
    for (const service of services) {
      const ns = service.metadata.namespace ?? "";
      const serviceName = service.metadata.name;
      const endpoints = slices
        .filter(
          (s) =>
            s.metadata.namespace === ns && s.metadata.labels?.["kubernetes.io/service-name"] === serviceName,
        )
        .flatMap(
          (s) =>
            (s as { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }).endpoints ??
            [],
        )
        .filter((e) => e.conditions?.ready !== false);
      const address = endpoints[0]?.addresses[0];
      if (!address) continue;
      lines.push({
        namespace: ns,
        address,
        names: [`${serviceName}.${ns}.svc.cluster.local`, `${serviceName}.${ns}.svc`, `${serviceName}.${ns}`],
      });
    }
    for (const pod of this.pods.values()) {
      const own = `${pod.address} ${pod.spec.hostname ?? pod.name}`;
      const text = [
        "127.0.0.1 localhost",
        own,
        this.apiServiceLine(),
        ...lines.map((l) => `${l.address} ${l.names.join(" ")}`),
        "",
      ].join("\n");
      // In place (same inode: the file is bind-mounted into the pod's containers), and only when it
      // changed: a reader between the truncation and the write would find no names at all.
      if (pod.hostsText === text) continue;
      writeFileSync(join(pod.dir, "hosts"), text);
      pod.hostsText = text;
    }
  }

  /** The PID of a running container's main process (for tests that kill it). */
  containerPid(podName: string, container: string, namespace?: string): number | null {
    for (const pod of this.pods.values()) {
      if (pod.name !== podName || (namespace && pod.namespace !== namespace) || pod.terminating) continue;
      const state = pod.containers.find((c) => c.spec.name === container);
      return state && running(state) ? (state.process?.pid ?? null) : null;
    }
    return null;
  }

  /**
   * SIGKILL a container's processes and hold its restart for `holdMs`: a kubelet restarts a crashed
   * container after a back-off that grows from 0 to 5 minutes, so a test that depends on the container
   * staying down for a moment says so instead of racing the restart.
   */
  crashContainer(podName: string, container: string, holdMs: number): number {
    for (const pod of this.pods.values()) {
      if (pod.name !== podName || pod.terminating) continue;
      const state = pod.containers.find((c) => c.spec.name === container);
      const pid = state?.process?.pid;
      if (!state || !pid || !running(state)) break;
      state.process?.once("exit", () => (state.nextStartAt = Date.now() + holdMs));
      this.kill(state);
      return pid;
    }
    throw new Error(`no running container ${container} in pod ${podName}`);
  }

  /** The host folder behind a pod's volume (a test standing in for the controller reads clone facts there). */
  volumePath(podName: string, volume: string): string | null {
    for (const pod of this.pods.values())
      if (pod.name === podName && !pod.terminating) return pod.volumePaths.get(volume) ?? null;
    return null;
  }

  /** The names of the pods this node runs (not those being deleted). */
  podNames(): string[] {
    return [...this.pods.values()].filter((p) => !p.terminating).map((p) => p.name);
  }

  /** The pod's IP address, as the test node assigned it. */
  podAddress(podName: string): string | null {
    for (const pod of this.pods.values()) if (pod.name === podName && !pod.terminating) return pod.address;
    return null;
  }

  /** The last `lines` lines a container wrote, across its restarts. */
  logOf(podName: string, container: string, lines = 30): string {
    for (const pod of this.pods.values()) {
      if (pod.name !== podName) continue;
      const file = join(pod.dir, "logs", `${container}.log`);
      return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-lines).join("\n") : "";
    }
    return "";
  }

  /** Stops every pod's processes by PID, removes the network, deletes the Node. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await Promise.all([...this.pods.values()].map((pod) => this.terminate(pod, true)));
    for (const socket of this.relayed) socket.destroy();
    await new Promise<void>((resolve) => (this.apiRelay ? this.apiRelay.close(() => resolve()) : resolve()));
    this.network.tearDown();
    await this.api.call("DELETE", `/api/v1/nodes/${NODE_NAME}`).catch(() => undefined);
  }
}

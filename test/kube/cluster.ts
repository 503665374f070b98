// The real single-node cluster of scripts/test-cluster.sh as the tests and `npm run bench:kube` drive
// it: started and stopped by the script, reached through its admin kubeconfig (kubectl and the REST
// API), and its containers found on the node through containerd, as an operator on the node would.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { repoRoot } from "../helpers/site.js";
import { KubeClient } from "./client.js";

const SCRIPT = join(repoRoot, "scripts", "test-cluster.sh");

/** The kubectl the control plane's build made (the same version as the cluster). */
export const kubectlBinary = join(
  execFileSync("bash", [join(repoRoot, "scripts", "build-control-plane.sh"), "--print-dir"], {
    encoding: "utf8",
  }).trim(),
  "kubectl",
);

/** The spec fragment `up` prints: this cluster's images and storage classes. */
export interface SpecFragment {
  kubernetes: Record<string, unknown>;
}

export class TestCluster {
  kubeconfig = "";
  upOutput = "";
  private client: KubeClient | null = null;

  /** `dir` is the cluster's own folder: `down` here never stops a cluster a developer started by hand. */
  constructor(readonly dir: string) {}

  private script(command: "up" | "down" | "status"): {
    status: number | null;
    stdout: string;
    stderr: string;
  } {
    return spawnSync("bash", [SCRIPT, command], {
      env: { ...process.env, HAPRESS_TEST_CLUSTER_DIR: this.dir },
      encoding: "utf8",
      // The first `up` on a machine builds the node's parts and the images (minutes).
      timeout: 45 * 60_000,
    });
  }

  /** Starts the cluster (building what is missing); its output has the KUBECONFIG= and SPEC= lines. */
  up(): string {
    const result = this.script("up");
    if (result.status !== 0) {
      throw new Error(`test-cluster.sh up failed (exit ${result.status}):\n${result.stderr}`);
    }
    this.upOutput = result.stdout;
    this.kubeconfig = /^KUBECONFIG=(.+)$/m.exec(result.stdout)?.[1] ?? "";
    return result.stdout;
  }

  /** Stops everything by PID and puts the machine back (idempotent). */
  down(): void {
    const result = this.script("down");
    if (result.status !== 0) {
      throw new Error(`test-cluster.sh down failed (exit ${result.status}):\n${result.stderr}`);
    }
  }

  /** The components whose process is gone (empty while the cluster is healthy). */
  exited(): string[] {
    return this.script("status")
      .stdout.split("\n")
      .filter((line) => / exited$/.test(line))
      .map((line) => line.split(" ")[0] ?? line);
  }

  specFragment(): SpecFragment {
    const file = /^SPEC=(.+)$/m.exec(this.upOutput)?.[1] ?? "";
    return parseYaml(readFileSync(file, "utf8")) as SpecFragment;
  }

  /** The REST API as the cluster's admin (the kubeconfig's embedded certificates). */
  get api(): KubeClient {
    this.client ??= KubeClient.fromFile(this.kubeconfig);
    return this.client;
  }

  kubectl(args: string[], input?: string): string {
    return execFileSync(kubectlBinary, ["--kubeconfig", this.kubeconfig, ...args], {
      encoding: "utf8",
      input,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 60_000,
    });
  }

  /** Runs a command in a running pod's container: its exit status and output. */
  execIn(namespace: string, target: string, container: string, command: string[]) {
    const result = spawnSync(
      kubectlBinary,
      ["--kubeconfig", this.kubeconfig, "-n", namespace, "exec", target, "-c", container, "--", ...command],
      { encoding: "utf8", timeout: 60_000 },
    );
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  /**
   * The host PID of a container's first process (for a database container, `mariadbd` itself), from
   * containerd's task list: what `kill -9` on the node aims at.
   */
  async containerPid(namespace: string, pod: string, container: string): Promise<number> {
    const object = await this.api.get(`/api/v1/namespaces/${namespace}/pods/${pod}`);
    const statuses = (object.status?.containerStatuses ?? []) as { name: string; containerID?: string }[];
    const id = statuses.find((s) => s.name === container)?.containerID?.replace(/^containerd:\/\//, "");
    if (!id) throw new Error(`${namespace}/${pod}: no running container ${container}`);
    const tasks = execFileSync(
      "ctr",
      ["--address", join(this.dir, "containerd.sock"), "--namespace", "k8s.io", "tasks", "list"],
      { encoding: "utf8", timeout: 30_000 },
    );
    const line = tasks.split("\n").find((l) => l.startsWith(`${id} `));
    const [, pid, state] = (line ?? "").trim().split(/\s+/);
    if (!pid || state !== "RUNNING")
      throw new Error(`${namespace}/${pod} ${container}: task ${line ?? "not found"}`);
    return Number(pid);
  }

  /**
   * Gives an imported image a second name in the node's containerd (what a registry push of a new
   * tag would do): a pod template naming it is a new revision, which a rolling update must roll.
   */
  tagImage(source: string, target: string): void {
    const ctr = ["--address", join(this.dir, "containerd.sock"), "--namespace", "k8s.io", "images"];
    execFileSync("ctr", [...ctr, "rm", target], { stdio: "ignore", timeout: 30_000 });
    execFileSync("ctr", [...ctr, "tag", source, target], { encoding: "utf8", timeout: 30_000 });
  }

  /** A container's log through the API (the kubelet's); `previous` for the instance before a restart. */
  async logs(
    namespace: string,
    pod: string,
    container: string,
    options: { previous?: boolean; tail?: number } = {},
  ): Promise<string> {
    const query = new URLSearchParams({ container });
    if (options.previous) query.set("previous", "true");
    if (options.tail) query.set("tailLines", String(options.tail));
    const response = await this.api.raw("GET", `/api/v1/namespaces/${namespace}/pods/${pod}/log?${query}`);
    return response.status === 200 ? response.body : "";
  }

  /** The node folder behind a claim (both test storage classes provision folders on the node). */
  async volumePath(namespace: string, claim: string): Promise<string> {
    const object = await this.api.get(`/api/v1/namespaces/${namespace}/persistentvolumeclaims/${claim}`);
    const volume = await this.api.get(`/api/v1/persistentvolumes/${String(object.spec?.volumeName)}`);
    const spec = volume.spec as { hostPath?: { path: string }; local?: { path: string } };
    const path = spec.hostPath?.path ?? spec.local?.path;
    if (!path) throw new Error(`${namespace}/${claim}: its volume has no folder on the node`);
    return path;
  }

  /** The ClusterIP of a Service: what a client in the cluster (or on the node) connects to. */
  async serviceAddress(namespace: string, service: string): Promise<string> {
    const object = await this.api.get(`/api/v1/namespaces/${namespace}/services/${service}`);
    const address = (object.spec as { clusterIP?: string }).clusterIP;
    if (!address || address === "None") throw new Error(`${namespace}/${service} has no ClusterIP`);
    return address;
  }
}

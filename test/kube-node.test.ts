// The real single-node cluster of scripts/test-cluster.sh: the control plane, containerd, the kubelet,
// kube-proxy, CoreDNS, NetworkPolicy enforcement and volume provisioning, all started for real, and the
// machine put back as it was afterwards. Run alone: node --import tsx --test test/kube-node.test.ts
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { eventually, repoRoot } from "./helpers/site.js";

const isRoot = process.getuid?.() === 0;
const SCRIPT = join(repoRoot, "scripts", "test-cluster.sh");
// A folder of its own: `down` here never stops a cluster a developer started by hand.
const CLUSTER_DIR = "/var/tmp/hapress-test-cluster-tests";
const env = { ...process.env, HAPRESS_TEST_CLUSTER_DIR: CLUSTER_DIR };
const NAMESPACE = "node-checks";

function cluster(command: "up" | "down"): string {
  const result = spawnSync("bash", [SCRIPT, command], {
    env,
    encoding: "utf8",
    // The first `up` on a machine builds the node's parts and the images (minutes).
    timeout: 45 * 60_000,
  });
  if (result.status !== 0) {
    throw new Error(`test-cluster.sh ${command} failed (exit ${result.status}):\n${result.stderr}`);
  }
  return result.stdout;
}

let kubeconfig = "";
const kubectlBinary = join(
  execFileSync("bash", [join(repoRoot, "scripts", "build-control-plane.sh"), "--print-dir"], {
    encoding: "utf8",
  }).trim(),
  "kubectl",
);

function kubectl(args: string[], input?: string): string {
  return execFileSync(kubectlBinary, ["--kubeconfig", kubeconfig, ...args], {
    encoding: "utf8",
    input,
    stdio: ["pipe", "pipe", "pipe"],
    timeout: 60_000,
  });
}

/** A pod that runs one command to its end: its phase (Succeeded or Failed) and its output. */
async function runPod(
  name: string,
  image: string,
  command: string[],
  extra: { labels?: Record<string, string>; volumes?: { claim: string; path: string }[] } = {},
): Promise<{ phase: string; output: string }> {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NAMESPACE, labels: extra.labels ?? {} },
    spec: {
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      containers: [
        {
          name: "main",
          image,
          command,
          volumeMounts: (extra.volumes ?? []).map((v, i) => ({ name: `v${i}`, mountPath: v.path })),
        },
      ],
      volumes: (extra.volumes ?? []).map((v, i) => ({
        name: `v${i}`,
        persistentVolumeClaim: { claimName: v.claim },
      })),
    },
  };
  kubectl(["apply", "-f", "-"], JSON.stringify(pod));
  let phase = "";
  await eventually(
    `pod ${name} to finish`,
    () => {
      phase = kubectl(["-n", NAMESPACE, "get", "pod", name, "-o", "jsonpath={.status.phase}"]);
      return Promise.resolve(phase === "Succeeded" || phase === "Failed");
    },
    180_000,
  );
  return { phase, output: kubectl(["-n", NAMESPACE, "logs", name]) };
}

function claim(name: string, storageClass: string, accessMode: string): void {
  kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name, namespace: NAMESPACE },
      spec: {
        storageClassName: storageClass,
        accessModes: [accessMode],
        resources: { requests: { storage: "10Mi" } },
      },
    }),
  );
}

/** What the cluster leaves on the machine: none of it may survive `down`. */
function leftovers(): string[] {
  const found: string[] = [];
  if (spawnSync("ip", ["link", "show", "hpk-cni0"]).status === 0) found.push("the bridge hpk-cni0");
  const pids = spawnSync("pgrep", ["-f", CLUSTER_DIR], { encoding: "utf8" }).stdout.trim();
  if (pids) found.push(`processes ${pids.split("\n").join(", ")}`);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((line) => line.includes(CLUSTER_DIR) || line.includes(" /run/containerd"));
  if (mounts.length > 0) found.push(`${mounts.length} mounts`);
  for (const command of ["iptables", "ip6tables"]) {
    for (const table of ["filter", "nat", "mangle"]) {
      const rules = spawnSync(command, ["-t", table, "-S"], { encoding: "utf8" }).stdout;
      const ours = rules.split("\n").filter((line) => /KUBE-|HPK-|hpk-cni0/.test(line));
      if (ours.length > 0) found.push(`${command} ${table}: ${ours.join("; ")}`);
    }
  }
  const nft = spawnSync("nft", ["list", "tables"], { encoding: "utf8" }).stdout;
  if (/kube-network-policies|kube-proxy/.test(nft)) found.push(`nft tables: ${nft.trim()}`);
  if (existsSync(CLUSTER_DIR)) found.push(CLUSTER_DIR);
  for (const path of ["/run/containerd", "/var/lib/cni"]) if (existsSync(path)) found.push(path);
  return found;
}

function sysctl(key: string): string {
  return readFileSync(`/proc/sys/${key.replace(/\./g, "/")}`, "utf8").trim();
}

describe("a real single-node cluster (scripts/test-cluster.sh)", { skip: !isRoot && "needs root" }, () => {
  const sysctlsBefore = new Map<string, string>();
  let upOutput = "";

  before(
    () => {
      for (const key of [
        "net.ipv4.ip_forward",
        "net.bridge.bridge-nf-call-iptables",
        "vm.overcommit_memory",
      ]) {
        sysctlsBefore.set(key, sysctl(key));
      }
      upOutput = cluster("up");
      kubeconfig = /^KUBECONFIG=(.+)$/m.exec(upOutput)?.[1] ?? "";
      kubectl(["create", "namespace", NAMESPACE]);
    },
    { timeout: 50 * 60_000 },
  );
  // Whatever failed above, the machine is put back (down is idempotent).
  after(() => void cluster("down"), { timeout: 5 * 60_000 });

  it("prints its kubeconfig and a spec fragment naming its images and storage", () => {
    assert.match(upOutput, /^KUBECONFIG=\/.+$/m);
    const specFile = /^SPEC=(.+)$/m.exec(upOutput)?.[1] ?? "";
    const fragment = readFileSync(specFile, "utf8");
    assert.match(fragment, /hapress: hapress\.local\/hapress:dev/);
    assert.match(fragment, /databaseClass: local-path/);
    assert.match(fragment, /contentClass: shared-folder/);
    const node = JSON.parse(kubectl(["get", "node", "hapress-node", "-o", "json"])) as {
      status: {
        conditions: { type: string; status: string }[];
        nodeInfo: { containerRuntimeVersion: string };
      };
    };
    assert.ok(node.status.conditions.some((c) => c.type === "Ready" && c.status === "True"));
    assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
  });

  it("resolves Service names through CoreDNS and reaches the API server's Service through kube-proxy", async () => {
    const { phase, output } = await runPod("dns", "hapress.local/debian:bookworm", [
      "sh",
      "-c",
      "getent hosts kubernetes.default.svc.cluster.local && getent hosts kube-dns.kube-system" +
        " && curl -sk -o /dev/null -w 'api %{http_code}\\n' https://kubernetes.default/healthz" +
        " && cat /proc/net/route",
    ]);
    assert.equal(phase, "Succeeded", output);
    assert.match(output, /^10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local$/m);
    assert.match(output, /^10\.96\.0\.10\s+kube-dns\.kube-system\.svc\.cluster\.local$/m);
    assert.match(output, /^api 200$/m);
    // No default route: pod traffic has nowhere to go off the node.
    assert.doesNotMatch(output, /^\S+\s+00000000\s/m);
  });

  it("enforces NetworkPolicies: only the pods a policy allows reach a server", async () => {
    const server = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "server", namespace: NAMESPACE, labels: { app: "server" } },
      spec: {
        automountServiceAccountToken: false,
        containers: [
          {
            name: "main",
            image: "hapress.local/hapress:dev",
            command: ["node", "-e", "require('http').createServer((q, r) => r.end('ok')).listen(8080)"],
            ports: [{ containerPort: 8080 }],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          },
        ],
      },
    };
    const service = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "server", namespace: NAMESPACE },
      spec: { selector: { app: "server" }, ports: [{ port: 8080 }] },
    };
    const policy = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "server", namespace: NAMESPACE },
      spec: {
        podSelector: { matchLabels: { app: "server" } },
        policyTypes: ["Ingress"],
        ingress: [
          { from: [{ podSelector: { matchLabels: { access: "allowed" } } }], ports: [{ port: 8080 }] },
        ],
      },
    };
    for (const object of [server, service, policy]) kubectl(["apply", "-f", "-"], JSON.stringify(object));
    kubectl(["-n", NAMESPACE, "wait", "--for=condition=Ready", "pod/server", "--timeout=120s"]);
    const probe = [
      "curl",
      "-sS",
      "--max-time",
      "5",
      "-w",
      "\\n%{http_code}\\n",
      `http://server.${NAMESPACE}.svc:8080/`,
    ];
    const allowed = await runPod("allowed-client", "hapress.local/curl:bookworm", probe, {
      labels: { access: "allowed" },
    });
    assert.equal(allowed.phase, "Succeeded", allowed.output);
    assert.match(allowed.output, /^ok\n200$/m);
    const denied = await runPod("denied-client", "hapress.local/curl:bookworm", probe);
    assert.equal(denied.phase, "Failed", `a pod the policy does not allow got through:\n${denied.output}`);
  });

  it("provisions a ReadWriteOnce volume per claim and a ReadWriteMany folder that pods share", async () => {
    claim("rwo", "local-path", "ReadWriteOnce");
    claim("rwx", "shared-folder", "ReadWriteMany");
    const writer = await runPod(
      "writer",
      "hapress.local/debian:bookworm",
      ["sh", "-c", "echo kept > /rwo/file && echo shared > /rwx/file && echo written"],
      {
        volumes: [
          { claim: "rwo", path: "/rwo" },
          { claim: "rwx", path: "/rwx" },
        ],
      },
    );
    assert.equal(writer.phase, "Succeeded", writer.output);
    const reader = await runPod(
      "reader",
      "hapress.local/debian:bookworm",
      ["cat", "/rwo/file", "/rwx/file"],
      {
        volumes: [
          { claim: "rwo", path: "/rwo" },
          { claim: "rwx", path: "/rwx" },
        ],
      },
    );
    assert.equal(reader.phase, "Succeeded", reader.output);
    assert.equal(reader.output, "kept\nshared\n");
    const modes = kubectl([
      "-n",
      NAMESPACE,
      "get",
      "pvc",
      "-o",
      "jsonpath={range .items[*]}{.status.accessModes[0]} {end}",
    ]);
    assert.deepEqual(modes.trim().split(" ").sort(), ["ReadWriteMany", "ReadWriteOnce"]);
  });

  it("stops by PID and leaves nothing behind: no process, interface, rule, mount, folder or changed sysctl", () => {
    cluster("down");
    assert.deepEqual(leftovers(), []);
    for (const [key, value] of sysctlsBefore) assert.equal(sysctl(key), value, key);
  });
});

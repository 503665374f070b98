// Test infrastructure: a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) built by scripts/build-control-plane.sh, started on free loopback ports with generated
// certificates, like controller-runtime's envtest. Never an imitation of the API server.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { sleep } from "../../src/util/process.js";
import { repoRoot } from "../helpers/site.js";
import { KubeClient, type KubeCredentials } from "./client.js";

/** The folder of the built binaries; builds them first when missing (minutes, once per machine). */
export function controlPlaneBinDir(): string {
  const result = spawnSync("bash", [join(repoRoot, "scripts", "build-control-plane.sh"), "--print-dir"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 3_600_000,
  });
  if (result.status !== 0) throw new Error(`building the control plane failed (exit ${result.status})`);
  return result.stdout.trim();
}

const handedOut = new Set<number>();

/** A free TCP port on 127.0.0.1, never the same twice (the kernel picks it; a component binds it next). */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await kernelPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free port found in 20 attempts");
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

interface Pki {
  caFile: string;
  caPem: string;
  serving: { cert: string; key: string };
  serviceAccount: { privateKey: string; publicKey: string };
  client(name: string, group?: string): KubeCredentials;
}

/** A CA, the API server's serving certificate, service-account keys, and client certificates. */
function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = ["-days", "2"];
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
    "-subj", "/CN=hapress-test-ca", ...days], dir); // prettier-ignore
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "apiserver.key", "-out", "apiserver.csr",
    "-subj", "/CN=kube-apiserver"], dir); // prettier-ignore
  writeFileSync(
    join(dir, "apiserver.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\n",
  );
  openssl(["x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "apiserver.crt", "-extfile", "apiserver.ext", ...days], dir); // prettier-ignore
  openssl(["genrsa", "-out", "sa.key", "2048"], dir);
  openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  const caPem = readFileSync(join(dir, "ca.crt"), "utf8");
  return {
    caFile: join(dir, "ca.crt"),
    caPem,
    serving: { cert: join(dir, "apiserver.crt"), key: join(dir, "apiserver.key") },
    serviceAccount: { privateKey: join(dir, "sa.key"), publicKey: join(dir, "sa.pub") },
    client(name, group) {
      const file = name.replace(/[^a-z0-9-]/gi, "_");
      const subject = group ? `/O=${group}/CN=${name}` : `/CN=${name}`;
      openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${file}.key`, "-out", `${file}.csr`,
        "-subj", subject], dir); // prettier-ignore
      openssl(["x509", "-req", "-in", `${file}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", `${file}.crt`, ...days], dir); // prettier-ignore
      return {
        ca: caPem,
        cert: readFileSync(join(dir, `${file}.crt`), "utf8"),
        key: readFileSync(join(dir, `${file}.key`), "utf8"),
      };
    },
  };
}

/** A kubeconfig file for one identity (client certificate or bearer token). */
export function writeKubeconfig(file: string, server: string, credentials: KubeCredentials): void {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  const user = credentials.token
    ? `    token: ${credentials.token}`
    : [
        `    client-certificate-data: ${b64(credentials.cert ?? "")}`,
        `    client-key-data: ${b64(credentials.key ?? "")}`,
      ].join("\n");
  writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: test",
      "  cluster:",
      `    server: ${server}`,
      `    certificate-authority-data: ${b64(credentials.ca)}`,
      "users:",
      "- name: test",
      "  user:",
      user,
      "contexts:",
      "- name: test",
      "  context: {cluster: test, user: test}",
      "current-context: test",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
}

interface Component {
  name: string;
  child: ChildProcess;
  logFile: string;
}

/** Last lines of a component's log, for failure messages. */
function logTail(file: string, lines = 25): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** A running control plane; `stop()` ends every component by PID. */
export class ControlPlane {
  private readonly components: Component[] = [];
  server = "";
  binDir = "";
  /** The cluster admin (system:masters), for test set-up and assertions. */
  admin!: KubeClient;
  adminKubeconfig = "";
  pki!: Pki;

  constructor(readonly dir: string) {}

  private start(name: string, args: string[]): Component {
    const logFile = join(this.dir, `${name}.log`);
    const fd = openSync(logFile, "a");
    const child = spawn(join(this.binDir, name), args, { stdio: ["ignore", fd, fd], cwd: this.dir });
    closeSync(fd);
    const component = { name, child, logFile };
    child.on("error", () => undefined);
    this.components.push(component);
    return component;
  }

  private async waitFor(component: Component, what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (component.child.exitCode !== null || component.child.signalCode !== null) {
        throw new Error(
          `${component.name} exited (${component.child.exitCode ?? component.child.signalCode}) before ${what}:\n${logTail(component.logFile)}`,
        );
      }
      if (await check().catch(() => false)) return;
      await sleep(250);
    }
    throw new Error(`${component.name}: timed out waiting for ${what}:\n${logTail(component.logFile)}`);
  }

  /**
   * What the controller manager and the scheduler share: their own client certificate's kubeconfig
   * (for the API, authentication and authorization), a loopback health port, no leader election.
   */
  private componentArgs(file: string, user: string, port: number): string[] {
    const kubeconfig = join(this.dir, `${file}.kubeconfig`);
    writeKubeconfig(kubeconfig, this.server, this.pki.client(user));
    return [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${port}`,
      "--leader-elect=false",
      "--v=1",
    ];
  }

  /** Starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler; returns when ready. */
  async startAll(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.binDir = controlPlaneBinDir();
    this.pki = makePki(join(this.dir, "pki"));
    const etcdClient = await freePort();
    const etcdPeer = await freePort();
    const apiPort = await freePort();
    const kcmPort = await freePort();
    const schedPort = await freePort();
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = this.start("etcd", [
      "--name=test",
      `--data-dir=${join(this.dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=test=http://127.0.0.1:${etcdPeer}`,
      // A throwaway test store: durability of etcd itself is not what these tests are about.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    await this.waitFor(etcd, "etcd health", async () => {
      const response = await fetch(`${etcdUrl}/health`);
      return response.ok;
    });

    this.server = `https://127.0.0.1:${apiPort}`;
    const adminCredentials = this.pki.client("hapress-test-admin", "system:masters");
    this.admin = new KubeClient(this.server, adminCredentials);
    this.adminKubeconfig = join(this.dir, "admin.kubeconfig");
    writeKubeconfig(this.adminKubeconfig, this.server, adminCredentials);
    const apiserver = this.start("kube-apiserver", [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(this.dir, "apiserver-certs")}`,
      `--tls-cert-file=${this.pki.serving.cert}`,
      `--tls-private-key-file=${this.pki.serving.key}`,
      `--client-ca-file=${this.pki.caFile}`,
      `--service-account-key-file=${this.pki.serviceAccount.publicKey}`,
      `--service-account-signing-key-file=${this.pki.serviceAccount.privateKey}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--authorization-mode=Node,RBAC",
      // As kubeadm and kind set it: the optional in-cluster NFS server is privileged.
      "--allow-privileged=true",
      // Service cluster IPs are allocated as data only: nothing routes to them here (no kube-proxy).
      "--service-cluster-ip-range=10.96.0.0/16",
      // The `kubernetes` Service's endpoints would be this loopback address, which Endpoints refuse.
      "--endpoint-reconciler-type=none",
      "--advertise-address=127.0.0.1",
      "--v=1",
    ]);
    await this.waitFor(
      apiserver,
      "/readyz",
      async () => (await this.admin.raw("GET", "/readyz")).status === 200,
    );

    const kcm = this.start("kube-controller-manager", [
      ...this.componentArgs("controller-manager", "system:kube-controller-manager", kcmPort),
      `--service-account-private-key-file=${this.pki.serviceAccount.privateKey}`,
      `--root-ca-file=${this.pki.caFile}`,
      "--use-service-account-credentials=true",
      "--controllers=*",
    ]);
    const scheduler = this.start(
      "kube-scheduler",
      this.componentArgs("scheduler", "system:kube-scheduler", schedPort),
    );
    const healthy = (port: number) => async () => {
      const response = await this.admin.rawAt(`https://127.0.0.1:${port}`, "GET", "/healthz", {
        insecure: true,
      });
      return response.status === 200;
    };
    await this.waitFor(kcm, "/healthz", healthy(kcmPort));
    await this.waitFor(scheduler, "/healthz", healthy(schedPort));
    // The service-account controller makes `default` in each namespace: its presence shows the
    // controller manager is working against this API server.
    await this.waitFor(kcm, "the default ServiceAccount", async () => {
      const response = await this.admin.raw("GET", "/api/v1/namespaces/default/serviceaccounts/default");
      return response.status === 200;
    });
  }

  /** Which components have exited on their own (a healthy run has none). */
  exited(): string[] {
    return this.components
      .filter((c) => c.child.exitCode !== null || c.child.signalCode !== null)
      .map((c) => `${c.name} (${c.child.exitCode ?? c.child.signalCode}):\n${logTail(c.logFile)}`);
  }

  /** Stops every component by PID, newest first: SIGTERM, then SIGKILL after a bounded wait. */
  async stop(): Promise<void> {
    for (const component of [...this.components].reverse()) {
      const { child } = component;
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const killed = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed) {
        child.kill("SIGKILL");
        await exited;
      }
    }
  }
}

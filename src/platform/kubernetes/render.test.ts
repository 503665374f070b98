import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { parseSpec } from "../../spec/load.js";
import type { SpecInput } from "../../spec/schema.js";
import { serverWatchKey } from "../../agent/clone-channel.js";
import { checkKubernetesSpec } from "./check.js";
import { renderManifests, type K8sObject } from "./render.js";
import { externalClaims } from "./render/backup.js";
import { renderCommand } from "./render-command.js";
import { loadOrCreateClusterSecrets } from "./secrets.js";
import { renderVariants, testSecrets } from "../../../test/helpers/render-variants.js";
import { invariantProblems, schemaProblems, validateManifests } from "./validate.js";

const workDir = mkdtempSync(join(tmpdir(), "hp-render-"));
after(() => rmSync(workDir, { recursive: true, force: true }));

const secrets = testSecrets;
const variants = renderVariants;

function render(input: SpecInput): K8sObject[] {
  return renderManifests(parseSpec(input, "test"), secrets);
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(object, `${kind}/${name} rendered`);
  return object;
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

describe("rendered manifests", () => {
  it("keep the database reachable under overload: admin port for probes, app user capped", () => {
    const objects = render({ database: { maxConnections: 200 } });
    const config = find(objects, "ConfigMap", "mysql") as unknown as { data: Record<string, string> };
    assert.match(config.data["common.cnf"] ?? "", /^max-connections=200$/m);
    assert.match(config.data["common.cnf"] ?? "", /^extra-port=3308$/m);
    assert.match(
      config.data["10-hapress-users.sh"] ?? "",
      /ALTER USER 'wordpress'@'%' WITH MAX_USER_CONNECTIONS 160;/,
    );
    const text = JSON.stringify(find(objects, "StatefulSet", "mysql"));
    assert.match(text, /"name":"admin","containerPort":3308/);
    assert.match(
      text,
      /"readinessProbe":\{"exec":\{"command":\["mariadb-admin","--protocol=tcp","--host=localhost","--port=3308","ping"\]/,
    );
    const policies = JSON.stringify(objects.filter((o) => o.kind === "NetworkPolicy"));
    assert.match(policies, /"port":3308/, "the controller may reach the admin port");
  });

  for (const [label, input] of Object.entries(variants)) {
    it(`validate against the Kubernetes schema and our invariants with ${label}`, () => {
      const objects = render(input);
      assert.ok(objects.length >= 10);
      assert.deepEqual(schemaProblems(objects), []);
      assert.deepEqual(invariantProblems(objects, externalClaims(parseSpec(input, "test"))), []);
    });
  }

  it("back up from inside the cluster: a CronJob onto the backup claim, the binary-log archiver beside it", () => {
    const objects = render({});
    const cron = find(objects, "CronJob", "hapress-backup").spec as {
      schedule: string;
      suspend: boolean;
      timeZone: string;
      concurrencyPolicy: string;
      jobTemplate: { spec: { template: { spec: Record<string, unknown> } } };
    };
    // No schedule in the spec: suspended, there to be run by hand (kubectl create job --from=...).
    assert.equal(cron.suspend, true);
    assert.equal(cron.timeZone, "Etc/UTC");
    assert.equal(cron.concurrencyPolicy, "Forbid");
    const pod = JSON.stringify(cron.jobTemplate.spec.template.spec);
    assert.match(
      pod,
      /"args":\["--debug","agent","cluster-backup","--namespace","hapress","--spec-file","\/etc\/hapress\/spec.json","--to","\/backups","--content","\/content"\]/,
    );
    assert.match(pod, /"claimName":"hapress-backups"/);
    assert.match(pod, /"claimName":"wordpress-content","readOnly":true/);
    assert.match(pod, /"HAPRESS_CLONE_TOKEN_FILE"/);
    // Scratch space by TMPDIR, never a volume over /tmp (the root filesystem is read-only).
    assert.match(pod, /"name":"TMPDIR","value":"\/var\/tmp\/hapress"/);
    assert.doesNotMatch(pod, /"mountPath":"\/tmp"/);
    assert.doesNotMatch(
      pod,
      /admin-password|replication-password|root-password/,
      "the backup reads no other secret",
    );
    const claim = find(objects, "PersistentVolumeClaim", "hapress-backups").spec as { accessModes: string[] };
    assert.deepEqual(claim.accessModes, ["ReadWriteMany"]);
    const archiver = JSON.stringify(find(objects, "Deployment", "hapress-binlog-archiver"));
    assert.match(archiver, /"strategy":\{"type":"Recreate"\}/);
    assert.match(archiver, /"HAPRESS_REPLICATION_PASSWORD_FILE"/);
    assert.doesNotMatch(archiver, /clone-token|admin-password/);
    const role = find(objects, "Role", "hapress-backup") as unknown as { rules: { verbs: string[] }[] };
    assert.deepEqual(
      role.rules.flatMap((r) => r.verbs),
      ["get", "list", "get"],
      "read-only: pods and the primary record",
    );
    const users = (find(objects, "ConfigMap", "mysql") as unknown as { data: Record<string, string> }).data;
    assert.match(
      users["10-hapress-users.sh"] ?? "",
      /GRANT REPLICATION SLAVE, BINLOG MONITOR ON \*\.\* TO 'repl'@'%';/,
    );
    const policies = JSON.stringify(
      objects.filter((o) => o.kind === "NetworkPolicy" && o.metadata.name === "mysql"),
    );
    assert.match(policies, /"values":\["backup"\]\}\]\}\}\],"ports":\[\{"protocol":"TCP","port":3307\}\]/);
    assert.match(policies, /"values":\["archive"\]\}\]\}\}\],"ports":\[\{"protocol":"TCP","port":3306\}\]/);
    // A pod chaos labels as partitioned is left out of the database pods' allowances (only then can a
    // NetworkPolicy of its own cut it off).
    assert.match(
      policies,
      /"podSelector":\{"matchLabels":\{[^}]*\},"matchExpressions":\[\{"key":"hapress.io\/chaos-partition","operator":"DoesNotExist"\}\]\}/,
    );

    const nightly = render(variants["nightly backups to an existing claim, no binary-log archive"] ?? {});
    const scheduled = find(nightly, "CronJob", "hapress-backup").spec as {
      schedule: string;
      suspend: boolean;
    };
    assert.deepEqual([scheduled.schedule, scheduled.suspend], ["30 2 * * *", false]);
    assert.ok(!nightly.some((o) => o.kind === "PersistentVolumeClaim" && o.metadata.name === "site-backups"));
    assert.ok(
      !nightly.some((o) => o.metadata.name === "hapress-binlog-archiver"),
      "no archiver, policy or budget",
    );
    assert.match(JSON.stringify(nightly), /"claimName":"site-backups"/);
    assert.throws(
      () => render({ backup: { schedule: "*/10 * * * * *" } }),
      /backup.schedule: .* has a seconds field, which a Kubernetes CronJob cannot run; give 5 fields/,
    );
  });

  it("fix the tutorial's flaws", () => {
    const objects = render(variants["a content storage class"] ?? {});
    const text = JSON.stringify(objects);
    assert.doesNotMatch(text, /v1beta1/, "no removed API version");
    // A container's own loopback (the page cache reaching Apache in its pod) is no cluster address.
    assert.doesNotMatch(
      text.replace(/\b127\.0\.0\.1\b/g, "loopback"),
      /\b(?:\d{1,3}\.){3}\d{1,3}\b/,
      "no hand-typed IP address",
    );
    assert.doesNotMatch(text, /:latest"/);
    const wordpress = find(objects, "Deployment", "wordpress").spec as {
      strategy: { type: string; rollingUpdate: { maxUnavailable: number } };
      template: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
    };
    assert.equal(wordpress.strategy.type, "RollingUpdate");
    assert.equal(wordpress.strategy.rollingUpdate.maxUnavailable, 0);
    const env = wordpress.template.spec.containers[0]?.env ?? [];
    assert.equal(env.find((e) => e.name === "WORDPRESS_DB_HOST")?.value, "mysql-primary.hapress.svc:3306");
    // Keys, salts and the password from the Secret, as files (the official image reads <NAME>_FILE).
    assert.equal(
      env.find((e) => e.name === "WORDPRESS_AUTH_KEY_FILE")?.value,
      "/run/secrets/hapress/wordpress-auth-key",
    );
    assert.equal(
      env.find((e) => e.name === "WORDPRESS_DB_PASSWORD_FILE")?.value,
      "/run/secrets/hapress/app-password",
    );
    assert.ok(!JSON.stringify(objects).includes("secretKeyRef"), "no secret in any environment");
    const primary = find(objects, "Service", "mysql-primary").spec as { selector: Record<string, string> };
    assert.equal(
      primary.selector["hapress.io/role"],
      "primary",
      "mysql-primary routes only to the pod labelled primary",
    );
    const config = find(objects, "ConfigMap", "mysql").data as Record<string, string>;
    assert.match(config["common.cnf"] ?? "", /rpl-semi-sync-master-wait-point=AFTER_SYNC/);
    assert.match(config["common.cnf"] ?? "", /gtid-strict-mode=ON/);
    assert.match(config["replica.cnf"] ?? "", /read-only=ON/);
    const mariadbEnv = JSON.stringify(find(objects, "StatefulSet", "mysql"));
    assert.doesNotMatch(mariadbEnv, /MYSQL_ALLOW_EMPTY_PASSWORD/);
    assert.match(mariadbEnv, /"MARIADB_ROOT_HOST","value":"localhost"/);
    const install = objects.find((o) => o.kind === "Job" && o.metadata.name.startsWith("wordpress-install-"));
    assert.ok(install, "the site is installed once, by a Job");
    // Its name follows its (immutable) template: a changed title or image is a new Job, not a refusal.
    const retitled = render({ site: { title: "Another title" } }).find(
      (o) => o.kind === "Job" && o.metadata.name.startsWith("wordpress-install-"),
    );
    assert.notEqual(retitled?.metadata.name, install.metadata.name);
    assert.equal(
      render({}).find((o) => o.kind === "Job" && o.metadata.name.startsWith("wordpress-install-"))?.metadata
        .name,
      install.metadata.name,
      "the same spec, the same name",
    );
    const rules = find(objects, "Role", "hapress-controller").rules as {
      resources: string[];
      verbs: string[];
      resourceNames?: string[];
    }[];
    const roles = rules.flatMap((r) =>
      r.verbs.map(
        (v) => `${r.resources.join(",")}:${v}${r.resourceNames ? `[${r.resourceNames.join(",")}]` : ""}`,
      ),
    );
    // Least privilege: writes only to the database pods, its two ConfigMaps and the Lease, by name.
    assert.deepEqual(
      new Set(roles),
      new Set([
        "pods:get",
        "pods:list",
        "pods:watch",
        "pods:patch[mysql-0,mysql-1,mysql-2]",
        "pods:delete[mysql-0,mysql-1,mysql-2]",
        "configmaps:patch[hapress-observed]",
        "configmaps:get[hapress-state]",
        "configmaps:update[hapress-state]",
        "leases:create",
        "leases:get[hapress-controller]",
        "leases:update[hapress-controller]",
        "events:create",
        // Reading the database StatefulSet's update revision, for the rolling update.
        "statefulsets:get[mysql]",
      ]),
    );
    assert.equal(
      (find(objects, "Deployment", "hapress-controller").spec as { replicas: number }).replicas,
      2,
    );
    const policy = JSON.stringify(find(objects, "NetworkPolicy", "mysql"));
    assert.match(policy, /"port":3306/);
    assert.match(policy, /"port":3307/);
  });

  it("gives the controller the agents' server-watch key, never the clone token itself", () => {
    const objects = renderManifests(parseSpec({ name: "blog" }, "test"), testSecrets);
    const deployment = find(objects, "Deployment", "hapress-controller") as unknown as {
      spec: {
        template: { spec: { containers: { env: { name: string; value?: string }[] }[]; volumes: unknown[] } };
      };
    };
    const pod = deployment.spec.template.spec;
    const env = pod.containers[0]?.env ?? [];
    assert.ok(
      env.some((e) => e.name === "HAPRESS_SERVER_WATCH_KEY_FILE"),
      "the watch key is mounted as a file",
    );
    const mounted = JSON.stringify(pod.volumes);
    assert.match(mounted, /"server-watch-key"/);
    assert.doesNotMatch(mounted, /"clone-token"/, "the controller cannot take a backup");
    const secret = find(objects, "Secret", "hapress-credentials").stringData as Record<string, string>;
    assert.equal(secret["server-watch-key"], serverWatchKey(testSecrets.cloneToken).toString("hex"));
    assert.notEqual(secret["server-watch-key"], secret["clone-token"]);
    // The controller may open the agents' port (the watch), and the database pods accept it from the controller.
    const controllerPolicy = JSON.stringify(find(objects, "NetworkPolicy", "hapress-controller"));
    assert.match(controllerPolicy, /"port":3307/);
  });

  it("enforce the restricted Pod Security Standard in the site's namespace; the privileged NFS server lives apart", () => {
    const plain = render({});
    const namespace = find(plain, "Namespace", "hapress").metadata.labels ?? {};
    assert.equal(namespace["pod-security.kubernetes.io/enforce"], "restricted");
    const sts = find(plain, "StatefulSet", "mysql").spec as {
      template: { spec: { securityContext: Record<string, unknown> } };
    };
    assert.equal(sts.template.spec.securityContext.runAsUser, 999);
    assert.equal(sts.template.spec.securityContext.runAsNonRoot, true);
    const withNfs = render(variants["the in-cluster NFS server"] ?? {});
    const site = find(withNfs, "Namespace", "hapress").metadata.labels ?? {};
    assert.equal(site["pod-security.kubernetes.io/enforce"], "restricted");
    const nfsNamespace = find(withNfs, "Namespace", "hapress-nfs").metadata.labels ?? {};
    assert.equal(nfsNamespace["pod-security.kubernetes.io/enforce"], "privileged");
    assert.equal(nfsNamespace["pod-security.kubernetes.io/warn"], "restricted");
    assert.equal(find(withNfs, "StatefulSet", "nfs-server").metadata.namespace, "hapress-nfs");
  });

  it("use ClusterIP and an Ingress with TLS when a host is given", () => {
    const objects = render(variants["an ingress with TLS"] ?? {});
    assert.equal((find(objects, "Service", "wordpress").spec as { type: string }).type, "ClusterIP");
    const ingress = find(objects, "Ingress", "wordpress").spec as {
      tls: { hosts: string[]; secretName: string }[];
    };
    assert.deepEqual(ingress.tls, [{ hosts: ["blog.example.com"], secretName: "blog-tls" }]);
    const readiness = JSON.stringify(find(objects, "Deployment", "wordpress"));
    assert.match(readiness, /"name":"Host","value":"blog.example.com"/);
  });

  it("let the monitoring namespace, and only it, scrape the controller's named metrics port", () => {
    const objects = render({});
    const deployment = find(objects, "Deployment", "hapress-controller") as unknown as {
      spec: {
        template: {
          metadata: { annotations: Record<string, string> };
          spec: { containers: { args: string[]; ports: { name: string; containerPort: number }[] }[] };
        };
      };
    };
    const template = deployment.spec.template;
    const container = template.spec.containers[0];
    assert.ok(container);
    assert.deepEqual(
      container.ports.find((p) => p.name === "metrics"),
      { name: "metrics", containerPort: 9400 },
    );
    assert.equal(container.args[container.args.indexOf("--metrics-port") + 1], "9400");
    assert.equal(template.metadata.annotations["prometheus.io/scrape"], "true");
    assert.equal(template.metadata.annotations["prometheus.io/port"], "9400");
    const policy = find(objects, "NetworkPolicy", "hapress-controller") as unknown as {
      spec: { ingress: { from?: unknown[]; ports: { port: number }[] }[] };
    };
    const metricsRules = policy.spec.ingress.filter((rule) => rule.ports.some((p) => p.port === 9400));
    assert.deepEqual(metricsRules, [
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
        ports: [{ protocol: "TCP", port: 9400 }],
      },
    ]);
    // Operator objects only when asked; the rules are the shipped file's, promtool-checked.
    assert.ok(!objects.some((o) => o.kind === "PodMonitor" || o.kind === "PrometheusRule"));
    const asked = render({
      kubernetes: { monitoring: { namespace: "observability", podMonitor: true, prometheusRule: true } },
    });
    const monitor = find(asked, "PodMonitor", "hapress-controller") as unknown as {
      spec: { podMetricsEndpoints: { port: string }[] };
    };
    assert.equal(monitor.spec.podMetricsEndpoints[0]?.port, "metrics");
    const rule = find(asked, "PrometheusRule", "hapress-alerts") as unknown as {
      spec: { groups: { rules: { alert: string }[] }[] };
    };
    const shipped = readFileSync(
      join(import.meta.dirname, "../../../deploy/prometheus/hapress-alerts.yml"),
      "utf8",
    );
    assert.deepEqual(
      rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)),
      [...shipped.matchAll(/- alert: (\w+)/g)].map((m) => m[1]),
    );
    assert.match(JSON.stringify(find(asked, "NetworkPolicy", "hapress-controller")), /"observability"/);
    // The archiver speaks for the backups and the archive: its own metrics port, the same rules.
    const archiver = JSON.stringify(find(asked, "Deployment", "hapress-binlog-archiver"));
    assert.match(archiver, /"--metrics-port","9401"/);
    assert.match(archiver, /"name":"metrics","containerPort":9401/);
    assert.match(archiver, /"prometheus.io\/port":"9401"/);
    assert.match(
      JSON.stringify(find(asked, "NetworkPolicy", "hapress-binlog-archiver")),
      /"kubernetes\.io\/metadata\.name":"observability"\}\}\}\],"ports":\[\{"protocol":"TCP","port":9401\}/,
    );
    find(asked, "PodMonitor", "hapress-binlog-archiver");
    assert.deepEqual(validateManifests(asked), []);
  });

  it("run mysqld_exporter beside each database server when asked: its own port, account and memory folder", () => {
    type Pod = {
      metadata: { annotations?: Record<string, string> };
      spec: {
        containers: {
          name: string;
          command?: string[];
          ports?: { name: string; containerPort: number }[];
          securityContext?: { readOnlyRootFilesystem?: boolean };
        }[];
      };
    };
    const without = find(render({}), "StatefulSet", "mysql") as unknown as { spec: { template: Pod } };
    assert.ok(!without.spec.template.spec.containers.some((c) => c.name === "mysqld-exporter"));
    assert.equal(without.spec.template.metadata.annotations, undefined);
    const objects = render({
      metrics: { mysqldExporter: true },
      kubernetes: { monitoring: { podMonitor: true } },
    });
    const template = (find(objects, "StatefulSet", "mysql") as unknown as { spec: { template: Pod } }).spec
      .template;
    const exporter = template.spec.containers.find((c) => c.name === "mysqld-exporter");
    assert.ok(exporter);
    assert.deepEqual(exporter.ports, [{ name: "metrics", containerPort: 9104 }]);
    assert.equal(exporter.securityContext?.readOnlyRootFilesystem, true);
    const script = exporter.command?.[2] ?? "";
    // Kubernetes would expand "$(" in a command; the password comes from the Secret's file.
    assert.doesNotMatch(script, /\$\(/);
    assert.match(script, /HAPRESS_EXPORTER_PASSWORD_FILE/);
    assert.match(script, /--config\.my-cnf=\/run\/exporter\/my\.cnf --web\.listen-address=:9104/);
    assert.equal(template.metadata.annotations?.["prometheus.io/port"], "9104");
    const secret = find(objects, "Secret", "hapress-credentials") as unknown as {
      stringData: Record<string, string>;
    };
    assert.match(secret.stringData["exporter-password"] ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(secret.stringData["exporter-password"], secret.stringData["admin-password"]);
    const init = JSON.stringify(find(objects, "ConfigMap", "mysql"));
    assert.match(
      init,
      /GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON \*\.\* TO 'hapress_exporter'@'localhost'/,
    );
    const mysqlPolicy = JSON.stringify(find(objects, "NetworkPolicy", "mysql"));
    assert.match(
      mysqlPolicy,
      /"kubernetes\.io\/metadata\.name":"monitoring"\}\}\}\],"ports":\[\{"protocol":"TCP","port":9104\}/,
    );
    find(objects, "PodMonitor", "mysqld-exporter");
    assert.deepEqual(validateManifests(objects), []);
  });

  it("spread the database and WordPress pods over zones, and give the helper containers read-only root file systems", () => {
    const objects = render({});
    type Spec = {
      topologySpreadConstraints?: { topologyKey: string; whenUnsatisfiable: string; maxSkew: number }[];
      containers: { name: string; securityContext?: { readOnlyRootFilesystem?: boolean } }[];
      initContainers?: { name: string; securityContext?: { readOnlyRootFilesystem?: boolean } }[];
    };
    const podSpec = (kind: string, name: string) =>
      (find(objects, kind, name) as unknown as { spec: { template: { spec: Spec } } }).spec.template.spec;
    for (const spec of [podSpec("StatefulSet", "mysql"), podSpec("Deployment", "wordpress")])
      assert.deepEqual(
        spec.topologySpreadConstraints?.map((c) => [c.topologyKey, c.maxSkew, c.whenUnsatisfiable]),
        [["topology.kubernetes.io/zone", 1, "ScheduleAnyway"]],
      );
    const database = podSpec("StatefulSet", "mysql");
    const readOnly = (containers: Spec["containers"]) =>
      containers.filter((c) => c.securityContext?.readOnlyRootFilesystem === true).map((c) => c.name);
    assert.deepEqual(readOnly(database.initContainers ?? []), ["init"]);
    assert.deepEqual(readOnly(database.containers), ["agent"]);
    const cron = (
      find(objects, "CronJob", "wordpress-cron") as unknown as {
        spec: { jobTemplate: { spec: { template: { spec: Spec } } } };
      }
    ).spec.jobTemplate.spec.template.spec;
    assert.deepEqual(readOnly(cron.containers), ["wp-cron"]);
  });

  it("resolve the NFS server by its Service name, not an address", () => {
    const objects = render(variants["the in-cluster NFS server"] ?? {});
    const storageClass = objects.find((o) => o.kind === "StorageClass");
    assert.deepEqual(
      (storageClass as unknown as { parameters: Record<string, string> }).parameters.server,
      "nfs-server.hapress-nfs.svc.cluster.local",
    );
    const claim = find(objects, "PersistentVolumeClaim", "wordpress-content").spec as {
      storageClassName: string;
    };
    assert.equal(claim.storageClassName, storageClass?.metadata.name);
  });
});

describe("the invariant checks catch what they must", () => {
  const good = render(variants["a content storage class"] ?? {});
  const mutate = (change: (objects: K8sObject[]) => void) => {
    const objects = clone(good);
    change(objects);
    return validateManifests(objects).join("\n");
  };
  const statefulSet = (objects: K8sObject[]) =>
    find(objects, "StatefulSet", "mysql").spec as {
      template: { spec: { containers: Record<string, unknown>[] } };
    };

  it("a latest tag", () => {
    assert.match(
      mutate((o) => (statefulSet(o).template.spec.containers[0]!.image = "mariadb:latest")),
      /unpinned image mariadb:latest/,
    );
    assert.match(
      mutate((o) => (statefulSet(o).template.spec.containers[0]!.image = "mariadb")),
      /unpinned image mariadb$/m,
    );
  });
  it("a pod other than the controller's mounting a service-account token", () => {
    assert.match(
      mutate(
        (o) => delete (statefulSet(o).template.spec as Record<string, unknown>).automountServiceAccountToken,
      ),
      /StatefulSet\/mysql: mounts a service-account token/,
    );
  });
  it("a pod no NetworkPolicy allows, or no default deny", () => {
    assert.match(
      mutate((o) => o.splice(o.indexOf(find(o, "NetworkPolicy", "hapress-controller")), 1)),
      /Deployment\/hapress-controller: no NetworkPolicy allows its traffic/,
    );
    assert.match(
      mutate((o) => o.splice(o.indexOf(find(o, "NetworkPolicy", "default-deny")), 1)),
      /no default-deny NetworkPolicy/,
    );
  });
  it("a pod outside the restricted Pod Security profile", () => {
    assert.match(
      mutate((o) => {
        const spec = statefulSet(o).template.spec as { securityContext?: Record<string, unknown> };
        delete spec.securityContext?.seccompProfile;
      }),
      /StatefulSet\/mysql: not restricted: no RuntimeDefault seccomp profile/,
    );
    assert.match(
      mutate((o) => (statefulSet(o).template.spec.containers[0]!.securityContext = {})),
      /StatefulSet\/mysql: not restricted: a container may escalate privileges/,
    );
  });
  it("an empty password", () => {
    assert.match(
      mutate(
        (o) =>
          ((find(o, "Secret", "hapress-credentials").stringData as Record<string, string>)["app-password"] =
            ""),
      ),
      /key 'app-password' is empty/,
    );
  });
  it("a removed API version", () => {
    assert.match(
      mutate((o) => (find(o, "StatefulSet", "mysql").apiVersion = "apps/v1beta1")),
      /apps\/v1beta1 was removed/,
    );
  });
  it("a Service selecting nothing", () => {
    assert.match(
      mutate(
        (o) =>
          ((find(o, "Service", "wordpress").spec as { selector: Record<string, string> }).selector[
            "app.kubernetes.io/name"
          ] = "nope"),
      ),
      /selector matches no pod template/,
    );
  });
  it("a secret in an environment variable", () => {
    assert.match(
      mutate((o) => {
        const sts = find(o, "StatefulSet", "mysql").spec as {
          template: { spec: { containers: { env: unknown[] }[] } };
        };
        sts.template.spec.containers[0]?.env.push({
          name: "LEAK",
          valueFrom: { secretKeyRef: { name: "hapress-credentials", key: "app-password" } },
        });
      }),
      /env LEAK holds a secret/,
    );
  });
  it("a missing secret key", () => {
    assert.match(
      mutate(
        (o) =>
          delete (find(o, "Secret", "hapress-credentials").stringData as Record<string, string>)[
            "clone-token"
          ],
      ),
      /missing key clone-token/,
    );
  });
  it("a missing probe, request or budget", () => {
    assert.match(
      mutate((o) => delete statefulSet(o).template.spec.containers[0]!.livenessProbe),
      /lacks a readiness or liveness probe/,
    );
    assert.match(
      mutate((o) => delete statefulSet(o).template.spec.containers[1]!.resources),
      /no cpu and memory requests/,
    );
    assert.match(
      mutate((o) =>
        o.splice(
          o.findIndex((x) => x.kind === "PodDisruptionBudget" && x.metadata.name === "mysql"),
          1,
        ),
      ),
      /StatefulSet\/mysql: no PodDisruptionBudget/,
    );
  });
  it("a missing label and a schema error", () => {
    assert.match(
      mutate((o) => delete find(o, "Service", "mysql").metadata.labels?.["app.kubernetes.io/part-of"]),
      /missing labels app.kubernetes.io\/part-of/,
    );
    assert.match(
      mutate((o) => (statefulSet(o).template.spec.containers[0]!.ports = [{ containerPort: "x" }])),
      /must be integer/,
    );
  });
});

describe("Kubernetes-only spec checks", () => {
  const check = (input: SpecInput) => checkKubernetesSpec(parseSpec(input, "hapress.yaml"), "hapress.yaml");
  it("rejects several WordPress replicas on a ReadWriteOnce volume", () => {
    const result = check({
      kubernetes: { storage: { contentAccessMode: "ReadWriteOnce", contentClass: "x" } },
    });
    assert.match(
      result.errors.join("\n"),
      /kubernetes\.storage\.contentAccessMode.*ReadWriteOnce cannot be mounted by 3 WordPress replicas/,
    );
    assert.deepEqual(
      check({ wordpress: { replicas: 1 }, kubernetes: { storage: { contentAccessMode: "ReadWriteOnce" } } })
        .errors,
      [],
    );
  });
  it("warns, with the steps, while the hapress image is the unpublished default", () => {
    const warnings = check({ kubernetes: { storage: { contentClass: "x" } } }).warnings.join("\n");
    assert.match(
      warnings,
      /kubernetes\.images\.hapress' is ghcr\.io\/hapress\/hapress:0\.1\.0, which is not published/,
    );
    assert.match(warnings, /docker build -t registry\.example\.com\/hapress:0\.1\.0 \./);
    const named = check({
      kubernetes: {
        storage: { contentClass: "x" },
        images: { hapress: "registry.example.com/hapress:0.1.0" },
      },
    });
    assert.deepEqual(named.warnings, []);
  });
  it("asks for a storage class for shared content", () => {
    assert.match(check({}).errors.join("\n"), /kubernetes\.storage\.contentClass.*ReadWriteMany/);
  });
  it("warns about an even number of database instances with automatic failover", () => {
    assert.match(
      check({ database: { replicas: 4 }, kubernetes: { storage: { contentClass: "x" } } }).warnings.join(
        "\n",
      ),
      /database\.replicas is 4/,
    );
    assert.deepEqual(
      check({
        database: { replicas: 4 },
        kubernetes: {
          automaticFailover: false,
          storage: { contentClass: "x" },
          images: { hapress: "registry.example.com/hapress:0.1.0" },
        },
      }).warnings,
      [],
    );
  });
  it("keeps room for the NFS server's namespace (<namespace>-nfs) in a DNS label", () => {
    const long = "n".repeat(60);
    assert.match(
      check({ kubernetes: { namespace: long, storage: { nfs: { enabled: true } } } }).errors.join("\n"),
      /kubernetes\.namespace.*at most 59 characters with the in-cluster NFS server/,
    );
    assert.deepEqual(check({ kubernetes: { namespace: long, storage: { contentClass: "x" } } }).errors, []);
  });
  it("rejects a latest image in the spec", () => {
    assert.throws(
      () => parseSpec({ kubernetes: { images: { mariadb: "mariadb:latest" } } }, "hapress.yaml"),
      /latest/,
    );
  });
});

describe("render command", () => {
  const spec = parseSpec(variants["an ingress with TLS"] ?? {}, "hapress.yaml");

  it("renders byte-identical output twice from the same secrets file, which it keeps private", async () => {
    const secretsFile = join(workDir, "secrets.json");
    const lines: string[] = [];
    const first = await renderCommand({
      spec,
      specSource: "hapress.yaml",
      secretsFile,
      outputDir: null,
      report: (l) => lines.push(l),
    });
    assert.match(lines.join("\n"), /generated 15 secret value/);
    assert.equal(statSync(secretsFile).mode & 0o777, 0o600);
    const second = await renderCommand({
      spec,
      specSource: "hapress.yaml",
      secretsFile,
      outputDir: null,
      report: () => undefined,
    });
    assert.equal(first, second);
    const documents = parseAllDocuments(first ?? "").map((d) => d.toJS() as K8sObject);
    assert.ok(documents.length > 10);
    assert.deepEqual(Object.keys(documents[0] ?? {}).slice(0, 3), ["apiVersion", "kind", "metadata"]);
    const { secrets: stored } = await loadOrCreateClusterSecrets(secretsFile);
    assert.ok(first?.includes(stored.appPassword), "the Secret carries the stored password");
  });

  it("completes a partial secrets file without rotating what is there", async () => {
    const secretsFile = join(workDir, "partial.json");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(secretsFile, JSON.stringify({ appPassword: "kept-password-0123456789" }), { mode: 0o600 });
    const { secrets: completed, created } = await loadOrCreateClusterSecrets(secretsFile);
    assert.equal(completed.appPassword, "kept-password-0123456789");
    assert.ok(!created.includes("appPassword"));
    assert.ok(completed.rootPassword.length >= 24);
  });

  it("refuses a secret outside the generated character set, naming the file and the field", async () => {
    const secretsFile = join(workDir, "quoted.json");
    const { writeFileSync } = await import("node:fs");
    // A quote would end the SQL string the password is placed in: an injection, whoever wrote it.
    writeFileSync(secretsFile, JSON.stringify({ appPassword: "x'; DROP USER root; --aaaaaa" }), {
      mode: 0o600,
    });
    await assert.rejects(
      loadOrCreateClusterSecrets(secretsFile),
      /quoted\.json: field 'appPassword': must be 16-128 characters of A-Z a-z 0-9 _ -/,
    );
  });

  it("writes one file per object, the Secret readable by its owner only", async () => {
    const outputDir = join(workDir, "manifests");
    await renderCommand({
      spec,
      specSource: "hapress.yaml",
      secretsFile: join(workDir, "secrets.json"),
      outputDir,
      report: () => undefined,
    });
    const files = readdirSync(outputDir)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    assert.ok(files.some((f) => /^\d\d-statefulset-mysql\.yaml$/.test(f)));
    const secretFile = files.find((f) => f.includes("-secret-"));
    assert.ok(secretFile);
    assert.equal(statSync(join(outputDir, secretFile)).mode & 0o777, 0o600);
    assert.match(readFileSync(join(outputDir, files[0] ?? ""), "utf8"), /^apiVersion: v1\nkind: Namespace/);
  });

  it("removes only what its previous render wrote, and refuses a folder of another site", async () => {
    const outputDir = join(workDir, "owned");
    const { mkdirSync, writeFileSync, existsSync } = await import("node:fs");
    mkdirSync(outputDir, { recursive: true });
    // A user's own file, named like a manifest: never ours to delete.
    writeFileSync(join(outputDir, "05-configmap-mine.yaml"), "kind: ConfigMap\n");
    const renderInto = (input: SpecInput) =>
      renderCommand({
        spec: parseSpec(input, "hapress.yaml"),
        specSource: "hapress.yaml",
        secretsFile: join(workDir, "owned-secrets.json"),
        outputDir,
        report: () => undefined,
      });
    await renderInto({ kubernetes: { storage: { contentClass: "nfs-client" } } });
    const full = readdirSync(outputDir);
    assert.ok(full.some((f) => f.includes("deployment-wordpress")));
    await renderInto({ wordpress: { replicas: 0 } });
    const smaller = readdirSync(outputDir);
    assert.ok(
      !smaller.some((f) => f.includes("deployment-wordpress")),
      "a file no longer rendered is removed",
    );
    assert.ok(existsSync(join(outputDir, "05-configmap-mine.yaml")), "the user's file is kept");
    await assert.rejects(
      renderInto({ name: "shop", wordpress: { replicas: 0 }, kubernetes: { namespace: "shop" } }),
      /holds the manifests of site hapress\/hapress, not shop\/shop/,
    );
  });
});

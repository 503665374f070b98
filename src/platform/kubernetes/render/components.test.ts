// One test per component module of render/: each is a pure function of the spec and the secrets.
import assert from "node:assert/strict";
import { DB_DROPIN_PHP } from "../../../wordpress/db-dropin.js";
import { describe, it } from "node:test";
import { parseSpec } from "../../../spec/load.js";
import { testSecrets as testClusterSecrets } from "../../../../test/helpers/render-variants.js";
import type { Context, K8sObject } from "./common.js";
import { controller } from "./controller.js";
import { databaseServices, mariadbConfigMap, mariadbStatefulSet, stateConfigMap } from "./database.js";
import { networkPolicies } from "./network-policy.js";
import { restrictedProblems, restrictPods } from "./pod-security.js";
import { credentialsSecret } from "./secret.js";
import { nfsServer, nfsStorageClassName } from "./storage.js";
import { wordpressTier } from "./wordpress.js";
import { cronJob, installJob } from "./wordpress-jobs.js";

function context(input: object = {}): Context {
  const spec = parseSpec({ name: "blog", kubernetes: { namespace: "shop" }, ...input }, "test");
  return { spec, secrets: testClusterSecrets, namespace: spec.kubernetes.namespace };
}

const named = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

describe("render/secret", () => {
  it("holds every credential under the official images' names, none empty", () => {
    const secret = credentialsSecret(context());
    const data = secret.stringData as Record<string, string>;
    for (const key of [
      "mariadb-root-password",
      "replication-password",
      "admin-password",
      "app-password",
      "clone-token",
    ])
      assert.ok((data[key] ?? "").length >= 24, `${key} is a generated password`);
    assert.equal(data["app-password"], testClusterSecrets.appPassword);
    assert.equal(Object.keys(data).filter((k) => k.startsWith("wordpress-") && k.endsWith("-key")).length, 4);
  });
});

describe("render/database", () => {
  it("a StatefulSet started in order whose removed replicas lose their volume, never on delete", () => {
    const sts = mariadbStatefulSet(context({ database: { replicas: 5 } }));
    const spec = sts.spec as Record<string, unknown>;
    assert.equal(spec.replicas, 5);
    assert.equal(spec.podManagementPolicy, "OrderedReady");
    assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, {
      whenScaled: "Delete",
      whenDeleted: "Retain",
    });
    assert.match(JSON.stringify(spec), /"--peer-domain","mysql\.shop\.svc"/);
  });
  it("a headless Service for peers (not-ready addresses published) and one Service per role", () => {
    const services = databaseServices(context());
    const mysql = named(services, "Service", "mysql")?.spec as Record<string, unknown>;
    assert.equal(mysql.clusterIP, "None");
    assert.equal(mysql.publishNotReadyAddresses, true);
    const primary = named(services, "Service", "mysql-primary")?.spec as { selector: Record<string, string> };
    assert.equal(primary.selector["hapress.io/role"], "primary");
  });
  it("the state ConfigMap carries no data: only the controller writes it", () => {
    assert.equal(stateConfigMap(context()).data, undefined);
    assert.match(JSON.stringify(mariadbConfigMap(context()).data), /read-only=ON/);
  });
});

describe("render/controller", () => {
  it("two leader-elected replicas with the health port probed, the lease and site named", () => {
    const objects = controller(context());
    const deployment = named(objects, "Deployment", "hapress-controller");
    const text = JSON.stringify(deployment);
    assert.equal((deployment?.spec as { replicas: number }).replicas, 2);
    assert.match(text, /"--lease","hapress-controller"/);
    assert.match(text, /"--site","blog"/);
    assert.match(text, /"path":"\/readyz"/);
    assert.ok(named(objects, "ConfigMap", "hapress-observed"), "the ConfigMap it publishes into");
  });
  it("--no-automatic-failover reaches the controller's arguments", () => {
    const text = JSON.stringify(
      controller(context({ kubernetes: { namespace: "shop", automaticFailover: false } })),
    );
    assert.match(text, /--no-automatic-failover/);
  });
});

describe("render/wordpress", () => {
  it("the Deployment with its replicas, the install Job and cron", () => {
    const objects = wordpressTier(
      context({
        wordpress: { replicas: 2 },
        kubernetes: { namespace: "shop", storage: { contentClass: "nfs" } },
      }),
    );
    assert.equal((named(objects, "Deployment", "wordpress")?.spec as { replicas: number }).replicas, 2);
    assert.ok(
      objects.some((o) => o.kind === "Job" && /^wordpress-install-[0-9a-f]{8}$/.test(o.metadata.name)),
    );
    assert.ok(named(objects, "CronJob", "wordpress-cron"));
    // The database drop-in, from a ConfigMap, where WordPress looks for it.
    assert.equal(
      (named(objects, "ConfigMap", "wordpress-php")?.data as Record<string, string>)["db.php"],
      DB_DROPIN_PHP,
    );
    const pod = JSON.stringify(named(objects, "Deployment", "wordpress"));
    assert.match(pod, /"mountPath":"\/var\/www\/html\/wp-content\/db.php","subPath":"db.php"/);
  });
  it("the install Job writes through mysql-primary; cron calls WordPress by its Service name", () => {
    assert.match(JSON.stringify(installJob(context())), /mysql-primary\.shop\.svc/);
    assert.match(JSON.stringify(cronJob(context())), /http:\/\/wordpress\.shop\.svc\/wp-cron\.php/);
  });
});

describe("render/storage", () => {
  it("the NFS server is found by its Service name, and its StorageClass is per site", () => {
    const ctx = context({ kubernetes: { namespace: "shop", storage: { nfs: { enabled: true } } } });
    const text = JSON.stringify(nfsServer(ctx));
    assert.equal(nfsStorageClassName(ctx), "shop-blog-nfs");
    assert.match(text, /nfs-server\.shop-nfs\.svc\.cluster\.local/);
    assert.ok(
      nfsServer(ctx).every(
        (o) => o.kind === "StorageClass" || o.kind === "Namespace" || o.metadata.namespace === "shop-nfs",
      ),
    );
    assert.doesNotMatch(text, /\d+\.\d+\.\d+\.\d+/);
  });
});

describe("render/network-policy", () => {
  it("a default deny first, then allows that each select one component", () => {
    const policies = networkPolicies(context());
    const deny = policies[0]?.spec as { podSelector: object; policyTypes: string[] };
    assert.deepEqual(deny.podSelector, {});
    assert.deepEqual(deny.policyTypes, ["Ingress", "Egress"]);
    assert.ok(policies.length > 3);
  });
});

describe("render/pod-security", () => {
  it("makes every pod of the site restricted, except the NFS server", () => {
    const ctx = context({
      wordpress: { replicas: 1 },
      kubernetes: { namespace: "shop", storage: { nfs: { enabled: true } } },
    });
    const restricted = restrictPods([mariadbStatefulSet(ctx), ...controller(ctx), ...nfsServer(ctx)]);
    for (const object of restricted)
      assert.deepEqual(restrictedProblems(object), [], `${object.kind}/${object.metadata.name}`);
    // The kernel NFS server keeps its privileges: the namespace then enforces `privileged`.
    const nfs = restricted.find((o) => o.kind === "StatefulSet" && o.metadata.name === "nfs-server");
    assert.match(JSON.stringify(nfs), /"privileged":true/);
    assert.doesNotMatch(JSON.stringify(nfs), /runAsNonRoot/);
  });
});

describe("render/wordpress: the page cache", () => {
  interface Container {
    name: string;
    ports?: { name: string; containerPort: number }[];
    env?: { name: string; value?: string }[];
  }
  const podOf = (objects: K8sObject[]) =>
    (named(objects, "Deployment", "wordpress")?.spec as { template: { spec: { containers: Container[] } } })
      .template.spec;

  it("puts a cache container in front of Apache; readers reach it, the refresh plugin finds its peers", () => {
    const ctx = context({ kubernetes: { namespace: "shop", storage: { contentClass: "x" } } });
    const objects = wordpressTier(ctx);
    const pod = podOf(objects);
    assert.deepEqual(
      pod.containers.map((c) => c.name),
      ["wordpress", "cache"],
    );
    assert.deepEqual(pod.containers[1]?.ports, [{ name: "http", containerPort: 8080 }]);
    assert.deepEqual(pod.containers[0]?.ports, [{ name: "apache", containerPort: 80 }]);
    const service = named(objects, "Service", "wordpress")?.spec as { ports: { targetPort: string }[] };
    assert.equal(service.ports[0]?.targetPort, "http", "the Service reaches the cache");
    const peers = named(objects, "Service", "wordpress-peers")?.spec as Record<string, unknown>;
    assert.equal(peers.clusterIP, "None");
    const env = pod.containers[0]?.env ?? [];
    assert.ok(
      env.some(
        (e) => e.name === "HAPRESS_CACHE_PEERS_DNS" && e.value === "wordpress-peers.shop.svc.cluster.local",
      ),
    );
    const config = named(objects, "ConfigMap", "wordpress-cache")?.data as Record<string, string>;
    assert.match(config["nginx.conf"] ?? "", /include \/run\/secrets\/hapress\/cache-refresh-map;/);
    assert.doesNotMatch(JSON.stringify(config), /[0-9a-f]{64}/, "the refresh token is in the Secret only");
    const secret = credentialsSecret(ctx).stringData as Record<string, string>;
    assert.match(secret["cache-refresh-map"] ?? "", /map \$http_x_hapress_cache_refresh/);
  });

  it("without it, Apache serves the Service directly", () => {
    const objects = wordpressTier(context({ wordpress: { pageCache: { enabled: false } } }));
    const pod = podOf(objects);
    assert.deepEqual(
      pod.containers.map((c) => c.name),
      ["wordpress"],
    );
    assert.deepEqual(pod.containers[0]?.ports, [{ name: "http", containerPort: 80 }]);
    assert.equal(named(objects, "ConfigMap", "wordpress-cache"), undefined);
  });

  it("lets cron reach WordPress, and WordPress pods refresh each other, on the serving port", () => {
    const policies = networkPolicies(context());
    const egress = (name: string) =>
      JSON.stringify((named(policies, "NetworkPolicy", name)?.spec as { egress: unknown[] }).egress);
    const toWeb =
      /\{"to":\[\{"podSelector":\{[^}]*\},"matchExpressions":\[\{"key":"app.kubernetes.io\/component","operator":"In","values":\["web"\]\}\]\}\}\],"ports":\[\{"protocol":"TCP","port":8080\}\]\}/;
    assert.match(egress("wordpress-cron"), toWeb);
    assert.match(egress("wordpress"), toWeb);
  });
});

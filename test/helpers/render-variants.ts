// The spec variants and fixed secrets the render tests use: one copy, for the offline render tests
// and for the tests that apply the same manifests to a real API server.
import type { SpecInput } from "../../src/spec/schema.js";
import type { ClusterSecrets } from "../../src/platform/kubernetes/secrets.js";

/** Shaped like the secrets hapress generates (the programs that read them check their character set). */
export const testSecrets: ClusterSecrets = {
  rootPassword: "rootPasswordForTests0001",
  replicationPassword: "replPasswordForTests0001",
  adminPassword: "adminPasswordForTests001",
  appPassword: "appPasswordForTests00001",
  backupPassword: "backupPasswordForTests01",
  cloneToken: "cloneTokenForTests000001",
  wordpressAdminPassword: "wpAdminPasswordForTests1",
  wordpressKeys: {
    AUTH_KEY: "a",
    SECURE_AUTH_KEY: "b",
    LOGGED_IN_KEY: "c",
    NONCE_KEY: "d",
    AUTH_SALT: "e",
    SECURE_AUTH_SALT: "f",
    LOGGED_IN_SALT: "g",
    NONCE_SALT: "h",
  },
};

export const renderVariants: Record<string, SpecInput> = {
  "a content storage class": { kubernetes: { storage: { contentClass: "nfs-client" } } },
  "the in-cluster NFS server": { kubernetes: { storage: { nfs: { enabled: true } } } },
  "an ingress with TLS": {
    kubernetes: {
      storage: { contentClass: "rwx" },
      ingress: { host: "blog.example.com", tlsSecret: "blog-tls", className: "nginx" },
    },
  },
  "no WordPress, 5 database instances": { database: { replicas: 5 }, wordpress: { replicas: 0 } },
  "storage classes for everything": {
    name: "shop",
    kubernetes: {
      namespace: "shop",
      storage: { databaseClass: "fast", contentClass: "rwx" },
      backup: { storageClass: "rwx" },
      service: { type: "ClusterIP" },
    },
  },
  "mysqld_exporter beside each database server, scraped from namespace observability": {
    metrics: { mysqldExporter: true },
    kubernetes: { monitoring: { namespace: "observability" } },
  },
  "nightly backups to an existing claim, no binary-log archive": {
    backup: { schedule: "30 2 * * *", archiveBinlogs: false, keep: { days: 14 } },
    kubernetes: { backup: { claim: "site-backups", createClaim: false } },
  },
};

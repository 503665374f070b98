// Shared content storage: the optional in-cluster NFS server and its StorageClass.
import { type Context, type K8sObject, labels, metadata, pdb, resources, selector } from "./common.js";

/**
 * The namespace of the in-cluster NFS server: a privileged kernel server lives apart, so the site's
 * own namespace always enforces the restricted Pod Security Standard.
 */
export function nfsNamespace(namespace: string): string {
  return `${namespace}-nfs`;
}

export function contentStorageClass(ctx: Context): string | undefined {
  const storage = ctx.spec.kubernetes.storage;
  if (storage.nfs.enabled) return nfsStorageClassName(ctx);
  return storage.contentClass;
}

export function nfsStorageClassName(ctx: Context): string {
  return `${ctx.namespace}-${ctx.spec.name}-nfs`;
}

/**
 * The tutorial's in-cluster NFS server, without its hand-typed IP, in a namespace of its own (see
 * nfsNamespace): the NFS CSI driver's node plugin mounts `nfs-server.<namespace>-nfs.svc.cluster.local`,
 * a name cluster DNS resolves to the Service. That namespace denies all traffic but NFS's port, which
 * the nodes' kubelets reach (no pod selector names them).
 */
export function nfsServer(siteCtx: Context): K8sObject[] {
  const ctx: Context = { ...siteCtx, namespace: nfsNamespace(siteCtx.namespace) };
  const k = ctx.spec.kubernetes;
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: ctx.namespace,
        labels: {
          ...labels(ctx, "storage"),
          // A privileged container cannot even be baseline; the restricted profile is still audited.
          "pod-security.kubernetes.io/enforce": "privileged",
          "pod-security.kubernetes.io/warn": "restricted",
          "pod-security.kubernetes.io/audit": "restricted",
        },
      },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: metadata(ctx, "default-deny", "storage"),
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: metadata(ctx, "nfs-server", "storage"),
      spec: {
        podSelector: { matchLabels: selector(ctx, "storage") },
        policyTypes: ["Ingress"],
        ingress: [{ ports: [{ protocol: "TCP", port: 2049 }] }],
      },
    },
    {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: metadata(ctx, "nfs-server", "storage"),
      spec: {
        serviceName: "nfs-server",
        replicas: 1,
        updateStrategy: { type: "RollingUpdate" },
        selector: { matchLabels: selector(ctx, "storage") },
        template: {
          metadata: { labels: labels(ctx, "storage") },
          spec: {
            // No API access: only the controller talks to the API server.
            automountServiceAccountToken: false,
            containers: [
              {
                name: "nfs-server",
                image: k.images.nfsServer,
                env: [{ name: "SHARED_DIRECTORY", value: "/exports" }],
                ports: [{ name: "nfs", containerPort: 2049 }],
                // The kernel NFS server needs privileges; it is the only privileged container.
                securityContext: { privileged: true },
                resources: resources({ cpu: "100m", memory: "128Mi" }),
                readinessProbe: { tcpSocket: { port: "nfs" }, periodSeconds: 5 },
                livenessProbe: { tcpSocket: { port: "nfs" }, periodSeconds: 10, failureThreshold: 6 },
                volumeMounts: [{ name: "exports", mountPath: "/exports" }],
              },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: "exports", labels: labels(ctx, "storage") },
            spec: {
              accessModes: ["ReadWriteOnce"],
              ...(k.storage.nfs.diskClass ? { storageClassName: k.storage.nfs.diskClass } : {}),
              resources: { requests: { storage: k.storage.nfs.diskSize } },
            },
          },
        ],
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(ctx, "nfs-server", "storage"),
      spec: {
        type: "ClusterIP",
        selector: selector(ctx, "storage"),
        ports: [{ name: "nfs", port: 2049, targetPort: "nfs" }],
      },
    },
    {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: nfsStorageClassName(siteCtx), labels: labels(ctx, "storage") },
      provisioner: "nfs.csi.k8s.io",
      parameters: { server: `nfs-server.${ctx.namespace}.svc.cluster.local`, share: "/" },
      reclaimPolicy: "Retain",
      volumeBindingMode: "Immediate",
      mountOptions: ["nfsvers=4.1"],
    },
    pdb(ctx, "nfs-server", "storage", 1),
  ];
}

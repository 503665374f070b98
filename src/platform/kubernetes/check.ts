import { UNPUBLISHED_HAPRESS_IMAGE, type Spec } from "../../spec/schema.js";

export interface SpecCheck {
  errors: string[];
  warnings: string[];
}

/** Spec problems that only matter on Kubernetes, with the field and an example of right. */
export function checkKubernetesSpec(spec: Spec, source: string): SpecCheck {
  const errors: string[] = [];
  const warnings: string[] = [];
  const storage = spec.kubernetes.storage;
  if (spec.wordpress.replicas > 1 && storage.contentAccessMode === "ReadWriteOnce") {
    errors.push(
      `${source}: field 'kubernetes.storage.contentAccessMode': ReadWriteOnce cannot be mounted by ${spec.wordpress.replicas} WordPress replicas on different nodes\n  example of right:\n    kubernetes:\n      storage:\n        contentAccessMode: ReadWriteMany\n        contentClass: nfs-client`,
    );
  }
  if (
    spec.wordpress.replicas > 0 &&
    storage.contentAccessMode === "ReadWriteMany" &&
    !storage.contentClass &&
    !storage.nfs.enabled
  ) {
    errors.push(
      `${source}: field 'kubernetes.storage.contentClass': shared content needs a storage class that provides ReadWriteMany volumes (most default classes do not)\n  example of right:\n    kubernetes:\n      storage:\n        contentClass: nfs-client\n  or the in-cluster NFS server:\n    kubernetes:\n      storage:\n        nfs:\n          enabled: true`,
    );
  }
  if (spec.kubernetes.automaticFailover && spec.database.replicas % 2 === 0) {
    warnings.push(
      `${source}: database.replicas is ${spec.database.replicas}: with an even number, losing half the instances leaves no majority and automatic failover refuses to act; ${spec.database.replicas + 1} tolerates as many failures more safely`,
    );
  }
  if (storage.nfs.enabled && spec.kubernetes.namespace.length > 59) {
    errors.push(
      `${source}: field 'kubernetes.namespace': at most 59 characters with the in-cluster NFS server, whose namespace is '<namespace>-nfs' (a DNS label of 63 at most)\n  example of right:\n    kubernetes:\n      namespace: blog`,
    );
  }
  if (spec.kubernetes.ingress.tlsSecret && !spec.kubernetes.ingress.host) {
    errors.push(
      `${source}: field 'kubernetes.ingress.tlsSecret' needs 'kubernetes.ingress.host'\n  example of right:\n    kubernetes:\n      ingress:\n        host: blog.example.com\n        tlsSecret: blog-tls`,
    );
  }
  const schedule = spec.backup.schedule?.trim();
  if (schedule && !schedule.startsWith("@") && schedule.split(/\s+/).length !== 5) {
    errors.push(
      `${source}: field 'backup.schedule': ${JSON.stringify(schedule)} has a seconds field, which a Kubernetes CronJob cannot run\n  example of right:\n    backup:\n      schedule: "0 3 * * *"   # every day at 03:00 UTC`,
    );
  }
  const backup = spec.kubernetes.backup;
  const sharedClass = spec.wordpress.replicas > 0 && (storage.contentClass || storage.nfs.enabled);
  if (backup.createClaim && backup.accessMode === "ReadWriteMany" && !backup.storageClass && !sharedClass) {
    warnings.push(
      `${source}: the backup claim '${backup.claim}' asks for ReadWriteMany with no storage class (most default classes cannot provide it, and the claim would stay pending); set kubernetes.backup.storageClass, or accessMode: ReadWriteOnce if one node may hold it (the backup Job and the archiver then share that node)`,
    );
  }
  if (spec.kubernetes.images.hapress === UNPUBLISHED_HAPRESS_IMAGE) {
    warnings.push(
      `${source}: field 'kubernetes.images.hapress' is ${UNPUBLISHED_HAPRESS_IMAGE}, which is not published anywhere: no node can pull it, and the controller, the database pods' agent, backups and the archiver would never start. Build it from the Dockerfile, push it to your registry and name it (README, "The hapress image")\n  example of right:\n    docker build -t registry.example.com/hapress:0.1.0 . && docker push registry.example.com/hapress:0.1.0\n    kubernetes:\n      images:\n        hapress: registry.example.com/hapress:0.1.0`,
    );
  }
  return { errors, warnings };
}

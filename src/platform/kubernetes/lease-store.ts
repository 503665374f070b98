import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import {
  LeaseConflict,
  type LeaseRecord,
  type LeaseStore,
  type LeaseWrite,
} from "../../controller/leader-election.js";
import { apiStatus } from "./cluster.js";

function toRecord(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holder: spec.holderIdentity ? spec.holderIdentity : null,
    renewTimeMs: spec.renewTime ? new Date(spec.renewTime).getTime() : null,
    durationMs: (spec.leaseDurationSeconds ?? 15) * 1000,
    transitions: spec.leaseTransitions ?? 0,
    version: lease.metadata?.resourceVersion ?? "",
  };
}

/** A coordination.k8s.io/v1 Lease; the API server's resourceVersion check is the compare-and-swap. */
export class KubernetesLeaseStore implements LeaseStore {
  private readonly api: CoordinationV1Api;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  private body(lease: LeaseWrite, version?: string): V1Lease {
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: this.name,
        namespace: this.namespace,
        ...(version ? { resourceVersion: version } : {}),
      },
      spec: {
        holderIdentity: lease.holder ?? undefined,
        leaseDurationSeconds: Math.ceil(lease.durationMs / 1000),
        leaseTransitions: lease.transitions,
        ...(lease.renewTimeMs === null ? {} : { renewTime: new V1MicroTime(lease.renewTimeMs) }),
      },
    };
  }

  async read(): Promise<LeaseRecord | null> {
    try {
      return toRecord(await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }));
    } catch (error) {
      if (apiStatus(error) === 404) return null;
      throw error;
    }
  }

  async create(lease: LeaseWrite): Promise<LeaseRecord> {
    try {
      return toRecord(
        await this.api.createNamespacedLease({ namespace: this.namespace, body: this.body(lease) }),
      );
    } catch (error) {
      if (apiStatus(error) === 409) throw new LeaseConflict("the lease was created by another candidate");
      throw error;
    }
  }

  async update(lease: LeaseWrite, version: string): Promise<LeaseRecord> {
    try {
      return toRecord(
        await this.api.replaceNamespacedLease({
          name: this.name,
          namespace: this.namespace,
          body: this.body(lease, version),
        }),
      );
    } catch (error) {
      if (apiStatus(error) === 409) throw new LeaseConflict("the lease changed since it was read");
      throw error;
    }
  }
}

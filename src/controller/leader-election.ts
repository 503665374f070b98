import { errorMessage } from "../errors.js";

/** A lease as the elector sees it: who holds it, until when, and the version that guards changes. */
export interface LeaseRecord {
  holder: string | null;
  /** When the holder last renewed, on its clock (milliseconds since the epoch); null when released. */
  renewTimeMs: number | null;
  durationMs: number;
  transitions: number;
  /** The store's version of the record: an update naming an older one must fail (compare-and-swap). */
  version: string;
}

export type LeaseWrite = Omit<LeaseRecord, "version">;

/** Thrown by a LeaseStore when the record changed since it was read (or exists when created). */
export class LeaseConflict extends Error {}

/** Where the lease lives (a coordination.k8s.io/v1 Lease on Kubernetes; a fake in unit tests). */
export interface LeaseStore {
  read(): Promise<LeaseRecord | null>;
  create(lease: LeaseWrite): Promise<LeaseRecord>;
  /** Replaces the record only if its version is still `version`; throws LeaseConflict otherwise. */
  update(lease: LeaseWrite, version: string): Promise<LeaseRecord>;
}

export interface ElectionTiming {
  /** How long a lease lasts without renewal before another candidate may take it. */
  durationMs: number;
  /** A leader that has not renewed for this long stops acting; well inside the duration. */
  renewDeadlineMs: number;
  /** The pause between attempts to acquire or renew. */
  retryMs: number;
}

export const defaultElectionTiming: ElectionTiming = {
  durationMs: 10_000,
  renewDeadlineMs: 6_000,
  retryMs: 1_000,
};

export type LeaseStep = "create" | "renew" | "take-over" | "wait";

/**
 * What a candidate does next, from what it read. Expiry is judged by how long this candidate has seen
 * the same record unchanged on its own clock, never by the holder's timestamps: clocks of two machines
 * may disagree, elapsed time on one clock does not.
 */
export function nextLeaseStep(
  lease: LeaseRecord | null,
  identity: string,
  unchangedForMs: number,
): LeaseStep {
  if (lease === null) return "create";
  if (lease.holder === identity) return "renew";
  if (!lease.holder || lease.renewTimeMs === null) return "take-over";
  return unchangedForMs >= lease.durationMs ? "take-over" : "wait";
}

export interface LeaderElectorDeps {
  store: LeaseStore;
  identity: string;
  timing: ElectionTiming;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
}

/**
 * Leader election on a lease: at most one identity acts at a time. A leader is one that renewed within
 * `renewDeadlineMs` on its own clock; since that is shorter than the lease's duration, a leader that
 * cannot renew (API server unreachable, process stalled) stops acting before anyone else may start.
 */
export class LeaderElector {
  private lastRenewedAt: number | null = null;
  /** Whether the last attempt reached the store (readiness: this candidate can see the lease). */
  storeReachable = false;
  private seen: { version: string; since: number } | null = null;

  constructor(private readonly deps: LeaderElectorDeps) {}

  /** True while this identity holds a lease it renewed recently enough to act on. */
  isLeader(): boolean {
    return (
      this.lastRenewedAt !== null && this.deps.now() - this.lastRenewedAt < this.deps.timing.renewDeadlineMs
    );
  }

  /** One attempt to acquire or renew; returns whether this identity leads afterwards. */
  async tryOnce(): Promise<boolean> {
    const { store, identity, timing, now } = this.deps;
    try {
      const lease = await store.read();
      this.storeReachable = true;
      if (lease && this.seen?.version !== lease.version) this.seen = { version: lease.version, since: now() };
      const unchangedFor = this.seen ? now() - this.seen.since : 0;
      const step = nextLeaseStep(lease, identity, unchangedFor);
      if (step === "wait") {
        this.lastRenewedAt = null;
        return false;
      }
      const attemptAt = now();
      const write: LeaseWrite = {
        holder: identity,
        renewTimeMs: attemptAt,
        durationMs: timing.durationMs,
        transitions: (lease?.transitions ?? 0) + (step === "take-over" ? 1 : 0),
      };
      const written = lease === null ? await store.create(write) : await store.update(write, lease.version);
      this.seen = { version: written.version, since: attemptAt };
      if (step !== "renew" || this.lastRenewedAt === null)
        this.deps.log(`${identity} leads (lease taken: ${step}, transitions ${written.transitions})`);
      // Measured from before the write: the lease is valid for others from no earlier than that.
      this.lastRenewedAt = attemptAt;
      return true;
    } catch (error) {
      if (!(error instanceof LeaseConflict)) {
        this.storeReachable = false;
        this.deps.log(`lease: ${errorMessage(error)}`);
      }
      // A failed renewal keeps the old renewal time: isLeader() turns false at the renew deadline.
      return this.isLeader();
    }
  }

  /** Tries every `retryMs` until `shouldStop`; calls `onChange` when leadership is gained or lost. */
  async run(shouldStop: () => boolean, onChange: (leading: boolean) => void): Promise<void> {
    let leading = false;
    while (!shouldStop()) {
      await this.tryOnce();
      const now = this.isLeader();
      if (now !== leading) {
        leading = now;
        onChange(leading);
      }
      await this.deps.sleep(this.deps.timing.retryMs);
    }
    if (leading) onChange(false);
  }

  /** Gives the lease up (on a clean stop) so another candidate takes over at once, not after expiry. */
  async release(): Promise<void> {
    if (this.lastRenewedAt === null) return;
    this.lastRenewedAt = null;
    try {
      const lease = await this.deps.store.read();
      if (lease?.holder !== this.deps.identity) return;
      await this.deps.store.update(
        { holder: null, renewTimeMs: null, durationMs: lease.durationMs, transitions: lease.transitions },
        lease.version,
      );
      this.deps.log(`${this.deps.identity} released the lease`);
    } catch (error) {
      this.deps.log(`lease release: ${errorMessage(error)}`);
    }
  }
}

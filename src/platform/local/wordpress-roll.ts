import { errorMessage } from "../../errors.js";
import type { PodPlan, Topology } from "../../topology/topology.js";

/** The load balancer as a rolling update of WordPress sees it (LoadBalancerKeeper). */
export interface WordpressBalancerPort {
  /** No new request to this pod; one in flight finishes. */
  drainWordpress(pod: string): Promise<void>;
  /** Requests to this pod again, once its health check passes. */
  serveWordpress(pod: string): Promise<void>;
  wordpressServer(pod: string): Promise<{ up: boolean; sessions: number } | null>;
}

export interface WordpressRollDeps {
  balancer: WordpressBalancerPort;
  /** Starts a pod's processes with the spec's configuration (written when they are not running). */
  startPod(pod: PodPlan): Promise<void>;
  /** Stops a pod's processes gracefully (requests under way finish). */
  stopPod(pod: PodPlan): Promise<void>;
  /** Removes a stopped pod's folders. */
  removePod(pod: PodPlan): Promise<void>;
  /** Whether the pod answers its health check (nginx, PHP and the database). */
  healthy(pod: PodPlan): Promise<boolean>;
  log(pod: string | null, message: string, level?: "info" | "error"): void;
  sleep(ms: number): Promise<void>;
  now(): number;
}

/** A roll that failed is tried again after this long, not in every reconciliation. */
const RETRY_AFTER_MS = 60_000;
const POLL_MS = 100;

/**
 * The spare pod that serves beside the others while they restart (Kubernetes' maxSurge 1): the next
 * ordinal's name and address, so the load balancer and the status treat it as any pod.
 */
export function surgePod(topology: Topology, addressOf: (ordinal: number) => string): PodPlan {
  const ordinal = topology.wordpress.length;
  const template = topology.wordpress[0];
  return {
    name: `wordpress-${ordinal}`,
    component: "wordpress",
    ordinal,
    address: addressOf(ordinal),
    port: template?.port ?? 0,
  };
}

/** What `hapress up` says before a WordPress roll. */
export function wordpressRollPlan(outdated: readonly string[], surge: string): string {
  return `${outdated.join(", ")} restart one at a time with it, each taken out of the load balancer first and put back once healthy, while ${surge} (a spare pod with the new configuration) serves beside them`;
}

/**
 * The local target's rolling update of the WordPress tier: a spare pod on the new configuration joins
 * the load balancer, then each outdated pod in turn is drained (no new request; those under way
 * finish), restarted with the new configuration, checked healthy and put back; then the spare pod is
 * drained and removed. The site never has fewer serving pods than its replicas, so no read and no
 * post fails (HAProxy retries a read refused by a pod, never a post).
 */
export class WordpressRoll {
  private running: Promise<void> | null = null;
  private readonly held = new Set<string>();
  private failedAt: number | null = null;
  /** The spare pod while it is part of the site (the load balancer serves it). */
  surge: PodPlan | null = null;

  constructor(private readonly deps: WordpressRollDeps) {}

  /** Whether the roll owns this pod now: reconciliation must neither start nor remove it. */
  holds(pod: string): boolean {
    return this.held.has(pod);
  }

  get active(): boolean {
    return this.running !== null;
  }

  /** Starts rolling these pods unless a roll is under way or failed less than a minute ago. */
  start(topology: Topology, outdated: readonly string[], surge: PodPlan): void {
    if (this.running || outdated.length === 0) return;
    if (this.failedAt !== null && this.deps.now() - this.failedAt < RETRY_AFTER_MS) return;
    this.running = this.run(topology, outdated, surge)
      .then(() => {
        this.failedAt = null;
      })
      .catch((error: unknown) => {
        this.failedAt = this.deps.now();
        this.deps.log(
          null,
          `rolling update of WordPress stopped: ${errorMessage(error)}; trying again in ${RETRY_AFTER_MS / 1000} s`,
          "error",
        );
      })
      .finally(() => {
        this.running = null;
      });
  }

  /** Resolves when no roll is under way (the supervisor's shutdown waits for it). */
  async settled(): Promise<void> {
    await this.running;
  }

  private async run(topology: Topology, outdated: readonly string[], surge: PodPlan): Promise<void> {
    const { deps } = this;
    const started = deps.now();
    deps.log(null, `rolling update of WordPress: ${wordpressRollPlan(outdated, surge.name)}`);
    this.held.add(surge.name);
    try {
      await this.started(surge, `${surge.name} healthy`);
      this.surge = surge;
      await this.until(`${surge.name} up in the load balancer`, () => this.isUp(surge.name), 30_000);
      for (const name of outdated) {
        const pod = topology.wordpress.find((p) => p.name === name);
        if (pod) await this.replace(pod);
      }
    } finally {
      await this.retire(surge);
      this.held.delete(surge.name);
    }
    deps.log(
      null,
      `rolling update of WordPress done: ${outdated.length} pod(s) in ${((deps.now() - started) / 1000).toFixed(1)} s`,
    );
  }

  private async replace(pod: PodPlan): Promise<void> {
    const { deps } = this;
    this.held.add(pod.name);
    try {
      await deps.balancer.drainWordpress(pod.name);
      await this.drained(pod.name);
      await deps.stopPod(pod);
      await this.started(pod, `${pod.name} healthy with the new configuration`);
    } finally {
      // Back in rotation whatever happened: its health check decides whether it gets requests.
      await deps.balancer.serveWordpress(pod.name).catch(() => undefined);
      this.held.delete(pod.name);
    }
    await this.until(`${pod.name} up in the load balancer`, () => this.isUp(pod.name), 30_000);
    deps.log(pod.name, "restarted with the new configuration (rolling update)");
  }

  /** Out of the load balancer, stopped and removed; best effort, so the site is left as the spec says. */
  private async retire(surge: PodPlan): Promise<void> {
    const { deps } = this;
    if (this.surge) {
      await deps.balancer.drainWordpress(surge.name).catch(() => undefined);
      await this.drained(surge.name).catch(() => undefined);
    }
    // The supervisor's next reconciliation takes it out of HAProxy's configuration.
    this.surge = null;
    await deps.stopPod(surge);
    await deps.removePod(surge);
  }

  /** No session left to the pod (or 10 s passed: a graceful stop still lets requests under way finish). */
  private async drained(pod: string): Promise<void> {
    const deadline = this.deps.now() + 10_000;
    while (this.deps.now() < deadline) {
      const server = await this.deps.balancer.wordpressServer(pod);
      if (!server || server.sessions === 0) return;
      await this.deps.sleep(POLL_MS);
    }
  }

  /** Started (again, while it is not healthy: its nginx waits for PHP's socket) until healthy. */
  private async started(pod: PodPlan, what: string): Promise<void> {
    await this.until(
      what,
      async () => {
        await this.deps.startPod(pod);
        return this.deps.healthy(pod);
      },
      60_000,
    );
  }

  private async isUp(pod: string): Promise<boolean> {
    return (await this.deps.balancer.wordpressServer(pod))?.up === true;
  }

  private async until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = this.deps.now() + timeoutMs;
    while (this.deps.now() < deadline) {
      if (await check().catch(() => false)) return;
      await this.deps.sleep(POLL_MS);
    }
    throw new Error(`not ${what} within ${timeoutMs / 1000} s`);
  }
}

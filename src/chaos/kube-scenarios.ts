// The scenarios of the Kubernetes target alone: what a cluster user does to pods through the API.
import {
  database,
  deleteAndAwaitReady,
  deletePrimaryPod,
  hangPrimaryAndStopLeader,
  needsReplicas,
  needsWordpress,
  wordpress,
  type Scenario,
  type ScenarioContext,
} from "./scenario-steps.js";
import { newPrimaryReady } from "./site-waits.js";

/** How long a partition the controller rightly rides out is held before it is healed. */
const PARTITION_HOLD_MS = 10_000;

/** Waits (bounded) for another instance to be the primary and ready; marks it. */
async function awaitNewPrimary(ctx: ScenarioContext, old: string): Promise<void> {
  const after = await ctx.waitFor("a new primary, ready", newPrimaryReady(old));
  ctx.mark(`${after.primary ?? "?"} primary`);
}

/** The primary's pod cut off by a NetworkPolicy (see FaultPort.isolate) while `during` runs; healed after. */
async function withPrimaryCutOff(
  ctx: ScenarioContext,
  during: (primary: string) => Promise<void>,
): Promise<void> {
  const primary = (await ctx.faults.status()).primary ?? "";
  ctx.mark(`NetworkPolicy around ${primary}`);
  const partition = await ctx.faults.isolate(primary);
  try {
    await during(primary);
  } finally {
    await partition.heal();
    ctx.mark("NetworkPolicy removed");
  }
}

/**
 * Waits (bounded) until the controller says it lost the primary (the policy is in force: the network
 * plugin applies it a moment after it is made) or began a failover; which of the two. Neither means
 * the policy cut nothing: does the cluster's network plugin enforce NetworkPolicies?
 */
async function policyInForce(ctx: ScenarioContext): Promise<"primary-slow" | "failover-started"> {
  const seen = await ctx.waitForEvent(["primary-slow", "failover-started"]).catch((error: unknown) => {
    throw new Error(
      `the controller never noticed the partition: does the cluster's network plugin enforce NetworkPolicies? (${String(error)})`,
    );
  });
  return seen.includes("failover-started") ? "failover-started" : "primary-slow";
}

/**
 * The policy alone. What follows depends on the network plugin: one that ends open connections
 * silences the replication streams too, and the primary must be failed over (fenced by deleting its
 * pod); one that keeps them (kube-router, Calico) leaves the replicas hearing it, and the controller,
 * which alone lost it, must say so and not fail over a primary that still serves.
 */
async function policyAlone(ctx: ScenarioContext, primary: string): Promise<void> {
  if ((await policyInForce(ctx)) === "failover-started") return awaitNewPrimary(ctx, primary);
  ctx.mark("controller cut off; replicas still hear the primary");
  await ctx.sleep(PARTITION_HOLD_MS);
}

/**
 * The policy, then (once in force) the primary's open replication streams ended as a cut cable ends
 * them: the replicas cannot connect again and hear nothing, so the primary must be failed over while
 * WordPress still reaches it. The hard case of a partition: the old primary stays up and reachable by
 * clients, and must neither acknowledge a write the new primary lacks nor be writable beside it.
 */
async function policyAndStreamsCut(ctx: ScenarioContext, primary: string): Promise<void> {
  if ((await policyInForce(ctx)) === "primary-slow") {
    const ended = await ctx.faults.endReplicationStreams(primary);
    ctx.mark(`${ended} replication stream(s) of ${primary} ended`);
  }
  await awaitNewPrimary(ctx, primary);
}

export const KUBERNETES_SCENARIOS: Scenario[] = [
  {
    name: "primary-pod-delete",
    fault: "the primary's pod deleted (gracefully: its containers are stopped, then the pod made again)",
    failover: "required",
    targets: ["kubernetes"],
    unsupported: needsReplicas(1),
    run: (ctx) => deletePrimaryPod(ctx, false),
  },
  {
    name: "primary-pod-force-delete",
    fault: "the primary's pod deleted at once (--force --grace-period=0)",
    // The pod object is gone at once and its StatefulSet makes it again on the same volume: the
    // controller may see it back (the primary again, nothing lost) before it concludes it is dead.
    failover: "allowed",
    targets: ["kubernetes"],
    unsupported: needsReplicas(1),
    run: (ctx) => deletePrimaryPod(ctx, true),
  },
  {
    name: "replica-pod-delete",
    fault: "a replica's pod deleted",
    failover: "forbidden",
    targets: ["kubernetes"],
    unsupported: needsReplicas(1),
    run: async (ctx) => {
      const status = await ctx.faults.status();
      const replicas = database(status).filter((p) => p.name !== status.primary);
      await deleteAndAwaitReady(ctx, replicas[(ctx.run - 1) % replicas.length]?.name ?? "");
    },
  },
  {
    name: "controller-pod-delete",
    fault: "the leading controller's pod deleted (another replica of the controller takes the lease)",
    failover: "forbidden",
    targets: ["kubernetes"],
    unsupported: () => null,
    run: async (ctx) => {
      const leader = await ctx.faults.leadingController();
      ctx.mark(`delete pod ${leader}`);
      await ctx.faults.deletePod(leader, { force: false });
      // Bounded: 600 polls of 200 ms; the lease's holder changes when another controller takes it.
      for (let poll = 0; (await ctx.faults.leadingController().catch(() => leader)) === leader; poll++) {
        if (poll >= 600) throw new Error(`no controller took the lease from ${leader} in 120 s`);
        await ctx.sleep(200);
      }
      await ctx.waitFor("a controller leading again", (s) => s.controller.running);
      ctx.mark("controller leading");
    },
  },
  {
    name: "controller-pod-delete-mid-failover",
    fault:
      "the primary stopped (SIGSTOP), the leading controller's pod deleted at once as soon as it says the failover began: its successor must finish the failover",
    failover: "required",
    targets: ["kubernetes"],
    unsupported: needsReplicas(1),
    run: async (ctx) => {
      // A hung primary, not a deleted one: a pod made again at once may be the primary again before
      // any failover begins (see primary-pod-force-delete), and then there is nothing to interrupt.
      const leader = await ctx.faults.leadingController();
      await hangPrimaryAndStopLeader(ctx, async () => {
        await ctx.faults.deletePod(leader, { force: true });
        return `delete pod ${leader} --force`;
      });
    },
  },
  {
    name: "wordpress-pod-delete",
    fault: "a WordPress pod deleted (the Deployment makes another)",
    failover: "forbidden",
    targets: ["kubernetes"],
    unsupported: needsWordpress(1),
    run: async (ctx) => {
      const before = wordpress(await ctx.faults.status());
      const pod = before[(ctx.run - 1) % before.length]?.name ?? "";
      ctx.mark(`delete pod ${pod}`);
      await ctx.faults.deletePod(pod, { force: false });
      // A Deployment's new pod has a new name: back to as many ready pods as before.
      await ctx.waitFor(
        `${before.length} WordPress pods ready`,
        (s) => wordpress(s).length === before.length && wordpress(s).every((p) => p.ready),
      );
      ctx.mark("WordPress pods ready");
    },
  },
  {
    name: "primary-network-policy",
    fault:
      "the primary's pod cut off by a NetworkPolicy (ingress and egress denied but the WordPress path); healed after the failover, or 10 s after the controller says it lost it",
    failover: "allowed",
    targets: ["kubernetes"],
    unsupported: (status, faults) => needsReplicas(2)(status) ?? faults.partitionUnsupported(),
    run: (ctx) => withPrimaryCutOff(ctx, (primary) => policyAlone(ctx, primary)),
  },
  {
    name: "primary-network-policy-streams-cut",
    fault:
      "the same NetworkPolicy, then the primary's open replication streams ended (its binlog dump threads killed), as a cut cable ends them: WordPress still reaches it; healed after the failover",
    failover: "required",
    targets: ["kubernetes"],
    unsupported: (status, faults) => needsReplicas(2)(status) ?? faults.partitionUnsupported(),
    run: (ctx) => withPrimaryCutOff(ctx, (primary) => policyAndStreamsCut(ctx, primary)),
  },
  {
    name: "database-pods-delete",
    fault: "every database pod deleted at once",
    failover: "allowed",
    targets: ["kubernetes"],
    unsupported: needsReplicas(1),
    run: async (ctx) => {
      const pods = database(await ctx.faults.status()).map((p) => p.name);
      ctx.mark(`delete pods ${pods.join(", ")}`);
      await Promise.all(pods.map((pod) => ctx.faults.deletePod(pod, { force: false })));
      await ctx.waitFor("a primary, ready", (s) => s.primary !== null && s.ready);
      ctx.mark("ready");
    },
  },
];

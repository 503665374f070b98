import type { SiteStatus } from "../status/site-status.js";
import type { ChaosTarget, FaultPort } from "./faults.js";
import { isWhole, newPrimary } from "./site-waits.js";

/** What a scenario may use while it runs (see runner.ts). */
export interface ScenarioContext {
  faults: FaultPort;
  /** Which run of the scenario this is (1, 2…): a scenario may pick its victim by it. */
  run: number;
  /** Waits (bounded) until the site's status satisfies `check`; the timeout names `what`. */
  waitFor(what: string, check: (status: SiteStatus) => boolean, timeoutMs?: number): Promise<SiteStatus>;
  /**
   * Waits (bounded, polling every 20 ms) for a controller event of this kind since the run began;
   * returns the kinds seen so far, in order.
   */
  waitForEvent(kind: string, timeoutMs?: number): Promise<string[]>;
  /** A point on the run's timeline ("fault", "recovered"...), shown in the report. */
  mark(label: string): void;
  log(line: string): void;
  sleep(ms: number): Promise<void>;
  /** How long the saturation scenario keeps the cores busy. */
  saturationMs: number;
}

export interface Scenario {
  name: string;
  /** The fault, in words (the report's and the log's). */
  fault: string;
  /** Whether the primary must change, must not, or may (counted from the primary record's epoch). */
  failover: "required" | "forbidden" | "allowed";
  /** Where its fault exists: a process signal is local here, a pod deleted through the API is Kubernetes'. */
  targets: readonly ChaosTarget[];
  /** Why it cannot run on this site (skipped, and said), or null. */
  unsupported(status: SiteStatus, faults: FaultPort): string | null;
  run(ctx: ScenarioContext): Promise<void>;
}

function database(status: SiteStatus) {
  return status.pods.filter((p) => p.component === "mysql");
}

function wordpress(status: SiteStatus) {
  return status.pods.filter((p) => p.component === "wordpress");
}

const needsReplicas = (n: number) => (status: SiteStatus) =>
  database(status).length >= n + 1
    ? null
    : `needs ${n + 1} database instances (the site has ${database(status).length})`;

const needsWordpress = (n: number) => (status: SiteStatus) =>
  wordpress(status).length >= n
    ? null
    : `needs ${n} WordPress pod(s) (the site has ${wordpress(status).length})`;

/** What changes when a pod's process is started again: its first process id (local), its restarts (both). */
function incarnation(status: SiteStatus, pod: string): { pid: number; restarts: number } {
  const found = status.pods.find((p) => p.name === pod);
  return { pid: found?.pids[0] ?? 0, restarts: found?.restarts ?? 0 };
}

/** Kills a pod's processes and waits (bounded) until a new one runs and the pod is ready. */
async function killAndAwaitRestart(ctx: ScenarioContext, pod: string, label: string): Promise<void> {
  const before = incarnation(await ctx.faults.status(), pod);
  ctx.mark(label);
  await ctx.faults.signalPod(pod, "SIGKILL");
  await ctx.waitFor(`${pod} restarted`, (s) => {
    const now = incarnation(s, pod);
    const restarted = (now.pid !== 0 && now.pid !== before.pid) || now.restarts > before.restarts;
    return restarted && s.pods.some((p) => p.name === pod && p.ready);
  });
  ctx.mark(`${pod} restarted`);
}

async function killPrimary(ctx: ScenarioContext, how: "SIGKILL" | "SIGSTOP"): Promise<void> {
  const before = await ctx.faults.status();
  ctx.mark(`${how === "SIGKILL" ? "kill -9" : "SIGSTOP"} ${before.primary ?? "?"}`);
  await ctx.faults.signalPod(before.primary ?? "", how);
  const after = await ctx.waitFor("a new primary", newPrimary(before.primary));
  ctx.mark(`${after.primary ?? "?"} primary`);
  if (how === "SIGSTOP") {
    await ctx.faults.signalPod(before.primary ?? "", "SIGCONT");
    ctx.mark(`SIGCONT ${before.primary ?? "?"}`);
  }
}

/** Deletes a pod through the API (returns once the old pod is gone) and waits until it is ready again. */
async function deleteAndAwaitReady(ctx: ScenarioContext, pod: string, force = false): Promise<void> {
  ctx.mark(`delete pod ${pod}${force ? " --force" : ""}`);
  await ctx.faults.deletePod(pod, { force });
  await ctx.waitFor(`${pod} back and ready`, (s) => s.pods.some((p) => p.name === pod && p.ready));
  ctx.mark(`${pod} ready`);
}

async function deletePrimaryPod(ctx: ScenarioContext, force: boolean): Promise<void> {
  const before = await ctx.faults.status();
  const primary = before.primary ?? "";
  ctx.mark(`delete pod ${primary}${force ? " --force" : ""}`);
  await ctx.faults.deletePod(primary, { force });
  const after = await ctx.waitFor("a new primary", newPrimary(primary));
  ctx.mark(`${after.primary ?? "?"} primary`);
}

/**
 * The primary stopped (SIGSTOP); the leading controller stopped by `stopLeader` (which says how) as
 * soon as it says the failover began; its successor must finish the failover. SIGCONT at the end.
 */
async function hangPrimaryAndStopLeader(
  ctx: ScenarioContext,
  stopLeader: () => Promise<string>,
): Promise<void> {
  const primary = (await ctx.faults.status()).primary ?? "";
  ctx.mark(`SIGSTOP ${primary}`);
  await ctx.faults.signalPod(primary, "SIGSTOP");
  try {
    const seen = await ctx.waitForEvent("failover-started");
    const how = await stopLeader();
    // Said as it was: the stop may land after the promotion on a fast machine.
    ctx.mark(`${how} (${seen.includes("promoted") ? "after" : "before"} the promotion)`);
    const after = await ctx.waitFor("a new primary", newPrimary(primary));
    ctx.mark(`${after.primary ?? "?"} primary`);
  } finally {
    await ctx.faults.signalPod(primary, "SIGCONT");
    ctx.mark(`SIGCONT ${primary}`);
  }
}

/** Longer than the controller's failover cooldown (decide.ts, 3 s). */
const COOLDOWN_MARGIN_MS = 4_000;

export const SCENARIOS: Scenario[] = [
  {
    name: "primary-kill",
    fault: "kill -9 of the primary's mariadbd",
    failover: "required",
    targets: ["local", "kubernetes"],
    unsupported: needsReplicas(1),
    run: (ctx) => killPrimary(ctx, "SIGKILL"),
  },
  {
    name: "primary-hang",
    fault: "the primary's mariadbd stopped (SIGSTOP), then continued after the failover",
    failover: "required",
    targets: ["local", "kubernetes"],
    unsupported: needsReplicas(1),
    run: (ctx) => killPrimary(ctx, "SIGSTOP"),
  },
  {
    name: "replica-kill",
    fault: "kill -9 of a replica's mariadbd",
    failover: "forbidden",
    targets: ["local", "kubernetes"],
    unsupported: needsReplicas(1),
    run: async (ctx) => {
      const status = await ctx.faults.status();
      // Each replica in turn: killing the same one again and again measures its restart backoff
      // (up to a minute, as kubelet's) rather than the site.
      const replicas = database(status).filter((p) => p.name !== status.primary);
      const replica = replicas[(ctx.run - 1) % replicas.length]?.name ?? "";
      await killAndAwaitRestart(ctx, replica, `kill -9 ${replica}`);
    },
  },
  {
    name: "two-failovers",
    fault:
      "kill -9 of the primary, then of the new primary once the site is whole and the controller's cooldown over",
    failover: "required",
    targets: ["local", "kubernetes"],
    unsupported: needsReplicas(2),
    run: async (ctx) => {
      await killPrimary(ctx, "SIGKILL");
      await ctx.waitFor("the site whole again", isWhole);
      // After the controller's cooldown (3 s): within it, a crashed primary that its supervisor
      // restarts is simply the primary again (nothing was lost), which is not this scenario.
      await ctx.sleep(COOLDOWN_MARGIN_MS);
      await killPrimary(ctx, "SIGKILL");
    },
  },
  {
    name: "primary-partition",
    fault:
      "the primary cut off by the network from the replicas and the controller (packet filter), the load balancer still reaching it; healed after the failover",
    failover: "required",
    targets: ["local"],
    unsupported: (status, faults) => needsReplicas(2)(status) ?? faults.partitionUnsupported(),
    run: async (ctx) => {
      const before = await ctx.faults.status();
      const primary = before.primary ?? "";
      ctx.mark(`network cut around ${primary}`);
      const partition = await ctx.faults.isolate(primary);
      try {
        // Not the whole site ready: the old primary cannot rejoin before the network heals.
        const after = await ctx.waitFor(
          "a new primary, ready",
          (s) =>
            s.primary !== null &&
            s.primary !== primary &&
            s.pods.some((p) => p.name === s.primary && p.ready),
        );
        ctx.mark(`${after.primary ?? "?"} primary`);
      } finally {
        await partition.heal();
        ctx.mark("network healed");
      }
    },
  },
  {
    name: "controller-kill-mid-failover",
    fault:
      "the primary stopped (SIGSTOP), the controller killed (kill -9) as soon as it says the failover began; its restart must finish the failover",
    failover: "required",
    targets: ["local"],
    unsupported: needsReplicas(1),
    run: (ctx) =>
      hangPrimaryAndStopLeader(ctx, async () => {
        await ctx.faults.signalController("SIGKILL");
        return "kill -9 controller";
      }),
  },
  {
    name: "majority-lost",
    fault: "the primary and a replica stopped (SIGSTOP) for 8 s: no majority, so nobody is promoted",
    failover: "forbidden",
    targets: ["local", "kubernetes"],
    unsupported: (status) => (database(status).length === 3 ? null : "needs exactly 3 database instances"),
    run: async (ctx) => {
      const status = await ctx.faults.status();
      const replica = database(status).find((p) => p.name !== status.primary);
      const stopped = [status.primary ?? "", replica?.name ?? ""];
      ctx.mark(`SIGSTOP ${stopped.join(", ")}`);
      // The replica is stopped first and continued last: each signal waits for a status, and a
      // primary stopped alone for that long, with a majority still up, is rightly failed over as hung
      // (a failover where none is due, by the scenario's own doing).
      for (const pod of [...stopped].reverse()) await ctx.faults.signalPod(pod, "SIGSTOP");
      await ctx.sleep(8_000);
      for (const pod of stopped) await ctx.faults.signalPod(pod, "SIGCONT");
      ctx.mark(`SIGCONT ${stopped.join(", ")}`);
    },
  },
  {
    name: "controller-kill",
    fault: "kill -9 of the controller (the supervisor restarts it)",
    failover: "forbidden",
    targets: ["local"],
    unsupported: () => null,
    run: async (ctx) => {
      const controller = (s: SiteStatus) => s.pods.find((p) => p.component === "controller");
      const before = controller(await ctx.faults.status())?.pids[0] ?? 0;
      ctx.mark("kill -9 controller");
      await ctx.faults.signalController("SIGKILL");
      await ctx.waitFor("a new controller process", (s) => {
        const now = controller(s);
        return (now?.pids[0] ?? before) !== before && now?.ready === true;
      });
      ctx.mark("controller restarted");
    },
  },
  {
    name: "supervisor-kill",
    fault: "kill -9 of the supervisor, then `hapress up` (which adopts the running processes)",
    failover: "forbidden",
    targets: ["local"],
    unsupported: () => null,
    run: async (ctx) => {
      ctx.mark("kill -9 supervisor");
      await ctx.faults.signalSupervisor("SIGKILL");
      await ctx.sleep(3_000);
      ctx.mark("hapress up");
      await ctx.faults.up();
    },
  },
  {
    name: "site-kill",
    fault:
      "the supervisor and every recorded process (each group's leader: its workers are left behind, as after the OOM killer) killed at once, then `hapress up`",
    failover: "allowed",
    targets: ["local"],
    unsupported: () => null,
    run: async (ctx) => {
      ctx.mark("kill -9 everything");
      await ctx.faults.killSite();
      await ctx.sleep(1_000);
      ctx.mark("hapress up");
      await ctx.faults.up();
    },
  },
  {
    name: "saturation",
    fault: "every core busy: the primary slow but alive, which must not be failed over",
    failover: "forbidden",
    targets: ["local"],
    unsupported: () => null,
    run: async (ctx) => {
      ctx.mark("cores saturated");
      const load = ctx.faults.saturate(ctx.saturationMs + 5_000);
      await ctx.sleep(ctx.saturationMs);
      await load.stop();
      ctx.mark("load stopped");
    },
  },
  {
    name: "wordpress-kill",
    fault: "kill -9 of one WordPress pod's processes",
    failover: "forbidden",
    targets: ["local"],
    unsupported: needsWordpress(1),
    run: async (ctx) => {
      // Each pod in turn, as for replica-kill.
      const pods = wordpress(await ctx.faults.status());
      const pod = pods[(ctx.run - 1) % pods.length]?.name ?? "";
      await killAndAwaitRestart(ctx, pod, `kill -9 ${pod}`);
    },
  },
  {
    name: "switchover",
    fault: "a planned switchover to the most advanced replica",
    failover: "required",
    targets: ["local", "kubernetes"],
    unsupported: needsReplicas(1),
    run: async (ctx) => {
      ctx.mark("switchover");
      await ctx.faults.switchover(null);
      ctx.mark("switched");
    },
  },
  {
    name: "scale-mysql",
    fault: "scale mysql to 1 and back (the tutorial's own test); mysql-0 made primary first if need be",
    failover: "allowed",
    targets: ["local", "kubernetes"],
    unsupported: needsReplicas(1),
    run: async (ctx) => {
      const status = await ctx.faults.status();
      const count = database(status).length;
      if (status.primary !== "mysql-0") {
        ctx.mark("switchover to mysql-0");
        await ctx.faults.switchover("mysql-0");
      }
      ctx.mark("scale mysql 1");
      await ctx.faults.scale("mysql", 1);
      ctx.mark(`scale mysql ${count}`);
      await ctx.faults.scale("mysql", count);
    },
  },
  {
    name: "scale-wordpress",
    fault: "scale wordpress to 1 and back",
    failover: "forbidden",
    targets: ["local", "kubernetes"],
    unsupported: needsWordpress(2),
    run: async (ctx) => {
      const count = wordpress(await ctx.faults.status()).length;
      ctx.mark("scale wordpress 1");
      await ctx.faults.scale("wordpress", 1);
      ctx.mark(`scale wordpress ${count}`);
      await ctx.faults.scale("wordpress", count);
    },
  },
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

/** The scenarios named by `--scenario` (a name, a comma-separated list, or `all`) for a target, or bad input. */
export function pickScenarios(
  selector: string,
  target: ChaosTarget,
): Scenario[] | { unknown: string[]; elsewhere: string[] } {
  const here = SCENARIOS.filter((s) => s.targets.includes(target));
  if (selector === "all") return here;
  const names = selector.split(",").map((n) => n.trim());
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  const elsewhere = names.filter((n) => !unknown.includes(n) && !here.some((s) => s.name === n));
  if (unknown.length + elsewhere.length > 0) return { unknown, elsewhere };
  return names.map((n) => here.find((s) => s.name === n)).filter((s): s is Scenario => s !== undefined);
}

// The fault matrix: every scenario of both targets, and the choice `--scenario` makes among them.
import type { SiteStatus } from "../status/site-status.js";
import type { ChaosTarget } from "./faults.js";
import { KUBERNETES_SCENARIOS } from "./kube-scenarios.js";
import {
  COOLDOWN_MARGIN_MS,
  database,
  hangPrimaryAndStopLeader,
  killAndAwaitRestart,
  killPrimary,
  needsReplicas,
  needsWordpress,
  wordpress,
  type Scenario,
} from "./scenario-steps.js";
import { isWhole, newPrimaryReady } from "./site-waits.js";

export type { Scenario, ScenarioContext } from "./scenario-steps.js";

/** The scenarios of the local target, and those both targets run. */
const LOCAL_AND_SHARED_SCENARIOS: Scenario[] = [
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
        const after = await ctx.waitFor("a new primary, ready", newPrimaryReady(primary));
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
];

export const SCENARIOS: Scenario[] = [...LOCAL_AND_SHARED_SCENARIOS, ...KUBERNETES_SCENARIOS];

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

import type { SiteStatus } from "../status/site-status.js";
import { checkNamespace, targetsCluster, type ClusterTarget } from "./cluster-options.js";
import { report, type GlobalOptions } from "./options.js";
import { stateDirOf } from "./program.js";

/** A planned switchover as a command asks for it; each step the controller reports goes to `onStep`. */
export interface SwitchoverAsk {
  to: string | null;
  deadlineMs: number;
  onStep: (message: string) => void;
}

/**
 * The site a command acts on, whichever target it is on: the local one (its state folder and
 * supervisor) or one on Kubernetes (its namespace, through the API). Chosen once per command by
 * `openSiteTarget`; each command then says what it wants, never which target it talks to. The
 * implementations import their code when called: the Kubernetes client takes about a second to load,
 * and the quick entry (`switchover`) must stay quick.
 */
export interface SiteTarget {
  /** Where the data lives, for a command that asks before deleting it. */
  readonly dataDescription: string;
  status(showSecrets: boolean): Promise<SiteStatus>;
  down(options: { volumes: boolean; timeoutMs: number }): Promise<void>;
  /** Resolves with a line saying where the tier stands. */
  scale(tier: "mysql" | "wordpress", replicas: number, timeoutMs: number): Promise<string | null>;
  /** Resolves with the controller's last step. */
  switchover(ask: SwitchoverAsk): Promise<string>;
}

class LocalSite implements SiteTarget {
  constructor(private readonly stateDir: string) {}

  get dataDescription(): string {
    return `all data, secrets and logs in ${this.stateDir}`;
  }

  async status(showSecrets: boolean): Promise<SiteStatus> {
    const { liveStatus, offlineStatus, withCredentials } = await import("../platform/local/site-control.js");
    const status = (await liveStatus(this.stateDir)) ?? (await offlineStatus(this.stateDir));
    return showSecrets ? withCredentials(status, this.stateDir) : status;
  }

  async down(options: { volumes: boolean }): Promise<void> {
    const { down } = await import("../platform/local/site-control.js");
    await down(this.stateDir, { volumes: options.volumes }, report);
  }

  async scale(tier: "mysql" | "wordpress", replicas: number, timeoutMs: number): Promise<string> {
    const { scaleTier } = await import("../platform/local/site-control.js");
    const status = await scaleTier(this.stateDir, tier, replicas, report, timeoutMs);
    return tier === "mysql"
      ? `database tier at ${status.database.replicas} instance(s); primary ${status.primary ?? "?"}`
      : `WordPress tier at ${status.pods.filter((p) => p.component === "wordpress").length} pod(s)`;
  }

  async switchover(ask: SwitchoverAsk): Promise<string> {
    const { switchoverLocalSite } = await import("../platform/local/local-switchover.js");
    return switchoverLocalSite(this.stateDir, ask);
  }
}

class ClusterSite implements SiteTarget {
  readonly dataDescription = "the site's volumes and credentials in the cluster";

  constructor(
    private readonly globals: GlobalOptions,
    private readonly target: ClusterTarget,
  ) {}

  private site() {
    return import("./cluster-site.js");
  }

  async status(showSecrets: boolean): Promise<SiteStatus> {
    return (await this.site()).clusterStatus(this.globals, this.target, showSecrets);
  }

  async down(options: { volumes: boolean; timeoutMs: number }): Promise<void> {
    await (await this.site()).clusterDown(this.globals, this.target, options);
  }

  async scale(tier: "mysql" | "wordpress", replicas: number, timeoutMs: number): Promise<null> {
    await (await this.site()).clusterScale(this.globals, this.target, tier, replicas, timeoutMs);
    return null;
  }

  async switchover(ask: SwitchoverAsk): Promise<string> {
    return (await this.site()).switchoverClusterSite(this.globals, this.target, ask);
  }
}

/** The one place a command's target is chosen: --kubernetes, --context or --namespace mean the cluster. */
export function openSiteTarget(globals: GlobalOptions, target: ClusterTarget): SiteTarget {
  if (!targetsCluster(target)) return new LocalSite(stateDirOf(globals));
  checkNamespace(target.namespace);
  return new ClusterSite(globals, target);
}

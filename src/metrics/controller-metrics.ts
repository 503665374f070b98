import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { gtidProgress } from "../controller/gtid.js";
import type { ControllerEvent, Memory, Observation } from "../controller/types.js";

/**
 * What the controller tells its metrics: each round's observation, each event, each probe's duration.
 * The controller depends on this port only; the Prometheus registry behind it is an adapter.
 */
export interface ControllerMetricsPort {
  observed(observation: Observation, memory: Memory, leading: boolean): void;
  recorded(event: ControllerEvent, at: number, failoverStartedAt: number | null): void;
  probed(instance: string, seconds: number): void;
}

/**
 * The controller's metrics in Prometheus terms (base units, `_total` counters, `hapress_` prefix), in
 * a registry of their own (never prom-client's global one: a test may hold several controllers). A
 * database instance is labelled `pod` (mysql-0, as on Kubernetes), never `instance`, which Prometheus
 * sets to the scrape target.
 */
export class ControllerMetrics implements ControllerMetricsPort {
  readonly registry = new Registry();
  private readonly leader: Gauge;
  private readonly failovers: Counter;
  private readonly switchovers: Counter;
  private readonly primary: Gauge;
  private readonly reachable: Gauge;
  private readonly readOnly: Gauge;
  private readonly semiSync: Gauge;
  private readonly semiSyncReplicas: Gauge;
  private readonly ioRunning: Gauge;
  private readonly sqlRunning: Gauge;
  private readonly lagSeconds: Gauge;
  private readonly lagTransactions: Gauge;
  private readonly lastHeard: Gauge;
  private readonly probeSeconds: Histogram;
  private readonly lastFailover: Gauge;
  private readonly lastFailoverSeconds: Gauge;
  private readonly observedAt: Gauge;

  constructor() {
    const registers = [this.registry];
    this.leader = new Gauge({
      name: "hapress_controller_leader",
      help: "1 when this controller leads (may act on the database tier), 0 when it stands by",
      registers,
    });
    this.failovers = new Counter({
      name: "hapress_failovers_total",
      help: "Failovers by outcome: promoted (a replica became the primary) or refused (no majority, or automatic failover off)",
      labelNames: ["outcome"],
      registers,
    });
    this.switchovers = new Counter({
      name: "hapress_switchovers_total",
      help: "Planned switchovers by outcome: done or failed (rolled back)",
      labelNames: ["outcome"],
      registers,
    });
    // Present from the start, at 0: rate() and increase() need a first sample before the first event.
    for (const outcome of ["promoted", "refused"]) this.failovers.inc({ outcome }, 0);
    for (const outcome of ["done", "failed"]) this.switchovers.inc({ outcome }, 0);
    this.primary = new Gauge({
      name: "hapress_primary",
      help: "1 for the recorded primary, 0 for every other database instance",
      labelNames: ["pod"],
      registers,
    });
    this.reachable = instanceGauge(
      "hapress_instance_reachable",
      "1 when the instance answered the last probe",
      registers,
    );
    this.readOnly = instanceGauge(
      "hapress_instance_read_only",
      "1 when the instance refuses writes (read_only)",
      registers,
    );
    this.semiSync = instanceGauge(
      "hapress_instance_semi_sync_master_enabled",
      "1 when the instance waits for a replica's acknowledgement before a commit returns",
      registers,
    );
    this.semiSyncReplicas = new Gauge({
      name: "hapress_replicas_streaming",
      help: "Replicas whose I/O thread streams from the recorded primary (semi-sync acknowledgers)",
      registers,
    });
    this.ioRunning = instanceGauge(
      "hapress_replication_io_running",
      "1 when the replica's I/O thread runs",
      registers,
    );
    this.sqlRunning = instanceGauge(
      "hapress_replication_sql_running",
      "1 when the replica's SQL thread runs",
      registers,
    );
    this.lagSeconds = instanceGauge(
      "hapress_replication_lag_seconds",
      "How far the replica's applier is behind the primary (Seconds_Behind_Master)",
      registers,
    );
    this.lagTransactions = instanceGauge(
      "hapress_replication_lag_transactions",
      "Transactions the primary has written that the replica has not applied yet",
      registers,
    );
    this.lastHeard = instanceGauge(
      "hapress_replication_last_heard_seconds",
      "Seconds since the replica last received anything from its primary (an event or a heartbeat)",
      registers,
    );
    this.probeSeconds = new Histogram({
      name: "hapress_probe_duration_seconds",
      help: "How long the controller's probe of an instance took (connect and read its state)",
      labelNames: ["pod"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.lastFailover = new Gauge({
      name: "hapress_last_failover_timestamp_seconds",
      help: "When the last failover promoted a replica (Unix time); absent before the first",
      registers,
    });
    this.lastFailoverSeconds = new Gauge({
      name: "hapress_last_failover_duration_seconds",
      help: "The last failover as the controller saw it: from its start to the promotion (writes were refused meanwhile)",
      registers,
    });
    this.observedAt = new Gauge({
      name: "hapress_controller_last_observation_timestamp_seconds",
      help: "When the controller last finished a round of probes (Unix time)",
      registers,
    });
  }

  /** Said by whoever knows (the leader election), also between rounds and while standing by. */
  leading(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }

  observed(observation: Observation, memory: Memory, leading: boolean): void {
    this.leading(leading);
    this.observedAt.set(observation.at / 1000);
    const primary = observation.instances.find((i) => i.name === observation.primary);
    const primaryProgress = primary?.reachable ? gtidProgress(primary.gtidBinlog) : null;
    for (const gauge of [this.primary, this.reachable, this.readOnly, this.semiSync, this.ioRunning])
      gauge.reset();
    for (const gauge of [this.sqlRunning, this.lagSeconds, this.lagTransactions, this.lastHeard])
      gauge.reset();
    let streaming = 0;
    for (const view of observation.instances) {
      const instance = view.name;
      this.primary.set({ pod: instance }, view.name === observation.primary ? 1 : 0);
      this.reachable.set({ pod: instance }, view.reachable || view.busy ? 1 : 0);
      // What an unreachable instance said last round is not known now: its series are left out.
      if (!view.reachable) continue;
      this.readOnly.set({ pod: instance }, view.readOnly ? 1 : 0);
      this.semiSync.set({ pod: instance }, view.semiSyncMasterEnabled ? 1 : 0);
      const replication = view.replication;
      if (!replication || view.name === observation.primary) continue;
      const io = replication.ioRunning === "Yes";
      this.ioRunning.set({ pod: instance }, io ? 1 : 0);
      this.sqlRunning.set({ pod: instance }, replication.sqlRunning ? 1 : 0);
      if (io && primary && replication.masterHost === primary.address) streaming++;
      if (replication.secondsBehind !== null)
        this.lagSeconds.set({ pod: instance }, replication.secondsBehind);
      if (primaryProgress !== null)
        this.lagTransactions.set(
          { pod: instance },
          Math.max(0, primaryProgress - gtidProgress(view.gtidCurrent)),
        );
      const heard = memory.progress[instance];
      if (heard) this.lastHeard.set({ pod: instance }, Math.max(0, (observation.at - heard.since) / 1000));
    }
    this.semiSyncReplicas.set(streaming);
  }

  recorded(event: ControllerEvent, at: number, failoverStartedAt: number | null): void {
    switch (event.kind) {
      case "promoted":
        this.failovers.inc({ outcome: "promoted" });
        this.lastFailover.set(at / 1000);
        if (failoverStartedAt !== null) this.lastFailoverSeconds.set((at - failoverStartedAt) / 1000);
        break;
      // Refused by the rules (no majority, no healthy replica) or by the user (automatic failover off).
      case "failover-refused":
      case "failover-disabled":
        this.failovers.inc({ outcome: "refused" });
        break;
      case "switchover-done":
        this.switchovers.inc({ outcome: "done" });
        break;
      case "switchover-failed":
        this.switchovers.inc({ outcome: "failed" });
        break;
    }
  }

  probed(instance: string, seconds: number): void {
    this.probeSeconds.observe({ pod: instance }, seconds);
  }

  /** The text format Prometheus scrapes, and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function instanceGauge(name: string, help: string, registers: Registry[]): Gauge {
  return new Gauge({ name, help, labelNames: ["pod"], registers });
}

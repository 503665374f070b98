// A client of the database tier on the test control plane, shared by the Kubernetes tests and the
// Kubernetes failover benchmark: inserts through whatever `mysql-primary`'s EndpointSlice lists, with
// the time of every acknowledgement, and checks afterwards that none was lost.
import { connectSql } from "../../src/mysql/client.js";
import { sleep } from "../../src/util/process.js";
import { testSecrets } from "../helpers/render-variants.js";
import type { KubeClient } from "./client.js";

/** The ready addresses a Service's EndpointSlices list, sorted. */
export async function endpointAddresses(
  api: KubeClient,
  namespace: string,
  service: string,
): Promise<string[]> {
  const slices = await api.list(
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${service}`,
  );
  return slices
    .flatMap(
      (s) =>
        (s as { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }).endpoints ?? [],
    )
    .filter((e) => e.conditions?.ready === true)
    .flatMap((e) => e.addresses)
    .sort();
}

/** Acknowledged inserts into the primary, through whatever mysql-primary's EndpointSlice lists. */
export class Writer {
  /** Every writer started, so the suite's `after` stops those a failed test left running. */
  static readonly running = new Set<Writer>();
  readonly acknowledged: number[] = [];
  /** When each acknowledgement came (Date.now()), in the same order. */
  readonly acknowledgedAt: number[] = [];
  failures = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly api: KubeClient,
    private readonly namespace: string,
    private readonly table: string,
  ) {}

  start(): void {
    Writer.running.add(this);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let next = 1;
    const deadline = Date.now() + 600_000;
    while (!this.stopped && Date.now() < deadline) {
      const [address] = await endpointAddresses(this.api, this.namespace, "mysql-primary").catch(() => []);
      if (!address) {
        await sleep(50);
        continue;
      }
      try {
        const session = await connectSql(
          { host: address, port: 3306 },
          { user: "wordpress", password: testSecrets.appPassword },
          { database: "wordpress", connectTimeoutMs: 1000, queryTimeoutMs: 5000 },
        );
        try {
          while (!this.stopped) {
            await session.query(`INSERT INTO ${this.table} VALUES (?)`, [next]);
            this.acknowledged.push(next++);
            this.acknowledgedAt.push(Date.now());
            await sleep(5);
          }
        } finally {
          await session.close();
        }
      } catch {
        // The id that failed may or may not have committed: never reused, never counted.
        next++;
        this.failures++;
        await sleep(50);
      }
    }
  }

  /** The longest pause between two acknowledgements after `since`: the outage a client saw. */
  longestGapAfter(since: number): number {
    let longest = 0;
    for (let i = 1; i < this.acknowledgedAt.length; i++) {
      const [previous, current] = [this.acknowledgedAt[i - 1] ?? 0, this.acknowledgedAt[i] ?? 0];
      if (current >= since) longest = Math.max(longest, current - Math.max(previous, since));
    }
    return longest;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    Writer.running.delete(this);
  }
}

/** How many of `ids` the table on `address` holds. */
export async function countPresent(address: string, table: string, ids: number[]): Promise<number> {
  const session = await connectSql(
    { host: address, port: 3306 },
    { user: "wordpress", password: testSecrets.appPassword },
    { database: "wordpress", queryTimeoutMs: 30_000 },
  );
  try {
    const rows = await session.query(`SELECT id FROM ${table}`);
    const present = new Set(rows.map((r) => Number(r.id)));
    return ids.filter((id) => present.has(id)).length;
  } finally {
    await session.close();
  }
}

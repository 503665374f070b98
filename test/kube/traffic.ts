// The traffic of the Kubernetes tests and of the Kubernetes failover benchmark, sent from the node to
// the site's Services as a client in the cluster would (kube-proxy routes a ClusterIP to whatever the
// Service's EndpointSlice lists): an inserting client through `mysql-primary`, with the time of every
// acknowledgement, checked afterwards for losses; anonymous page readers through `wordpress`.
import { request as httpRequest } from "node:http";
import { connectSql } from "../../src/mysql/client.js";
import { Writer as AppWriter, type WriterReport } from "../../src/chaos/writer.js";
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

/**
 * Acknowledged inserts into the primary through the `mysql-primary` Service's address: the product's
 * chaos writer (the same client `hapress chaos` measures with), with the time of each
 * acknowledgement kept for the outage and a registry so the suite's `after` stops what a failed test
 * left running.
 */
export class Writer {
  static readonly running = new Set<Writer>();
  /** The acknowledged ids, known once the writer has stopped. */
  acknowledged: number[] = [];
  /** When each acknowledgement came (Date.now()), in order. */
  readonly acknowledgedAt: number[] = [];
  failures = 0;
  private readonly writer: AppWriter;

  constructor(
    /** The ClusterIP of `mysql-primary`. */
    address: string,
    table: string,
    password: string = testSecrets.appPassword,
  ) {
    this.writer = new AppWriter(
      { host: address, port: 3306 },
      { user: "wordpress", password },
      "wordpress",
      table,
      (sample) => {
        if (sample.ok) this.acknowledgedAt.push(sample.at);
        else this.failures++;
      },
    );
  }

  /** How many inserts have been acknowledged so far (while it runs, and after). */
  get acknowledgedCount(): number {
    return this.acknowledgedAt.length;
  }

  start(): void {
    Writer.running.add(this);
    this.writer.start(600_000);
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

  async stop(): Promise<WriterReport> {
    const report = await this.writer.stop();
    this.acknowledged = report.acknowledged;
    Writer.running.delete(this);
    return report;
  }
}

/** How many of `ids` the table on `address` holds. */
export async function countPresent(
  address: string,
  table: string,
  ids: number[],
  password: string = testSecrets.appPassword,
): Promise<number> {
  const session = await connectSql(
    { host: address, port: 3306 },
    { user: "wordpress", password },
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

/**
 * Anonymous visitors reading pages through the `wordpress` Service, one new connection per request
 * (each routed afresh, as separate visitors are), a few at once: every answer that is not a 200 is a
 * failed read, with its time and cause.
 */
export class PageReader {
  static readonly running = new Set<PageReader>();
  reads = 0;
  readonly failures: { at: number; path: string; cause: string }[] = [];
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(
    /** The ClusterIP of `wordpress`. */
    private readonly address: string,
    private readonly paths: string[] = ["/", "/sample-page/"],
    private readonly concurrency = 2,
  ) {}

  start(): void {
    PageReader.running.add(this);
    this.loops = Array.from({ length: this.concurrency }, (_, i) => this.run(i));
  }

  private async run(offset: number): Promise<void> {
    const deadline = Date.now() + 600_000;
    for (let i = offset; !this.stopped && Date.now() < deadline; i++) {
      const path = this.paths[i % this.paths.length] ?? "/";
      const cause = await this.read(path);
      if (cause === null) this.reads++;
      else this.failures.push({ at: Date.now(), path, cause });
      await sleep(20);
    }
  }

  /** One GET: null when it answered 200, otherwise why not. */
  private read(path: string): Promise<string | null> {
    return new Promise((resolve) => {
      const req = httpRequest(
        { host: this.address, port: 80, path, agent: false, headers: { host: "localhost" }, timeout: 15_000 },
        (res) => {
          // A failed read keeps the start of its body: what answered, and why (a database error page,
          // a proxy's own page).
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            if (res.statusCode !== 200 && body.length < 400) body += chunk;
          });
          res.on("end", () =>
            resolve(
              res.statusCode === 200
                ? null
                : `HTTP ${res.statusCode} (${String(res.headers.server ?? "?")}): ${body.replace(/\s+/g, " ").slice(0, 300)}`,
            ),
          );
          res.on("error", (error) => resolve(error.message));
        },
      );
      req.on("timeout", () => req.destroy(new Error("no answer within 15 s")));
      req.on("error", (error) => resolve(error.message));
      req.end();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    PageReader.running.delete(this);
  }
}

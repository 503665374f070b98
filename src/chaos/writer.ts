import { connectSql, type Credentials, type Endpoint, type SqlSession } from "../mysql/client.js";
import type { Secrets } from "../state/secrets.js";
import type { Sample } from "./timeline.js";
import { errorMessage } from "../errors.js";

export interface WriterReport {
  /** Ids whose INSERT returned OK to the client: these must never be lost. */
  acknowledged: number[];
  /** Ids whose INSERT failed or got no answer: each may or may not have been committed. */
  unacknowledged: number[];
  failedAttempts: number;
  /** Longest time between two acknowledged inserts, in ms: the write outage a user feels. */
  longestGapMs: number;
  durationMs: number;
}

/**
 * A client that inserts rows one at a time through an endpoint and remembers which ones were
 * acknowledged. It reconnects after any error, so it measures what an application would see.
 */
export class Writer {
  private stopping = false;
  private running: Promise<WriterReport> | null = null;
  private firstId = 1;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly credentials: Credentials,
    private readonly database: string,
    private readonly table = "hapress_chaos_writes",
    /** Told of every attempt as it ends (the chaos timeline). */
    private readonly onAttempt: (sample: Sample) => void = () => undefined,
  ) {}

  async prepare(): Promise<void> {
    const session = await connectSql(this.endpoint, this.credentials, { database: this.database });
    try {
      await session.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (id INT PRIMARY KEY, written_at TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP(3))`,
      );
      // After every id an earlier writer used: ids made from the clock collided once a writer had
      // inserted faster than one row per millisecond (every insert of the next run was a duplicate).
      const [row] = await session.query(`SELECT COALESCE(MAX(id), 0) AS last FROM ${this.table}`);
      this.firstId = Number(row?.last ?? 0) + 1;
    } finally {
      await session.close();
    }
  }

  start(maxDurationMs = 300_000): void {
    this.running = this.loop(maxDurationMs);
  }

  async stop(): Promise<WriterReport> {
    this.stopping = true;
    if (!this.running) throw new Error("the writer was not started");
    return this.running;
  }

  private async loop(maxDurationMs: number): Promise<WriterReport> {
    const started = Date.now();
    const acknowledged: number[] = [];
    const unacknowledged: number[] = [];
    let failedAttempts = 0;
    let lastAck = started;
    let longestGapMs = 0;
    let session: SqlSession | null = null;
    let nextId = this.firstId;
    // Bounded by the stop flag and by maxDurationMs.
    while (!this.stopping && Date.now() - started < maxDurationMs) {
      const id = nextId++;
      try {
        session ??= await connectSql(this.endpoint, this.credentials, {
          database: this.database,
          connectTimeoutMs: 1000,
          queryTimeoutMs: 5000,
        });
        await session.query(`INSERT INTO ${this.table} (id) VALUES (?)`, [id]);
        const now = Date.now();
        longestGapMs = Math.max(longestGapMs, now - lastAck);
        lastAck = now;
        acknowledged.push(id);
        this.onAttempt({ at: now, ok: true });
      } catch (error) {
        failedAttempts++;
        unacknowledged.push(id);
        this.onAttempt({ at: Date.now(), ok: false, error: errorMessage(error).slice(0, 200) });
        await session?.close().catch(() => undefined);
        session = null;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await session?.close().catch(() => undefined);
    return { acknowledged, unacknowledged, failedAttempts, longestGapMs, durationMs: Date.now() - started };
  }

  /** The acknowledged ids missing from an instance. */
  async missingOn(endpoint: Endpoint, acknowledged: number[]): Promise<number[]> {
    const present = await this.presentOn(endpoint);
    return acknowledged.filter((id) => !present.has(id));
  }

  /** The ids an instance holds. */
  async presentOn(endpoint: Endpoint): Promise<Set<number>> {
    const session = await connectSql(endpoint, this.credentials, {
      database: this.database,
      queryTimeoutMs: 30_000,
    });
    try {
      const rows = await session.query(`SELECT id FROM ${this.table}`);
      return new Set(rows.map((r) => Number(r.id)));
    } finally {
      await session.close();
    }
  }
}

/** A writer on an endpoint given as "host:port" (as status shows it), with the site's app account. */
export function appWriter(
  endpoint: string,
  secrets: Pick<Secrets, "appUser" | "appPassword" | "appDatabase">,
  onAttempt?: (sample: Sample) => void,
): Writer {
  const [host, port] = endpoint.split(":");
  return new Writer(
    { host: host ?? "", port: Number(port) },
    { user: secrets.appUser, password: secrets.appPassword },
    secrets.appDatabase,
    "hapress_chaos_writes",
    onAttempt,
  );
}

import { connectSql, type Credentials, type Endpoint, type SqlSession } from "../mysql/client.js";

/**
 * Samples every database instance every 50 ms and counts how many accept writes at once (read_only
 * off): the "never two writers" guarantee, measured. An instance that does not answer within the
 * sample counts as not writable for that sample (it cannot take a write it cannot answer).
 */
export class WritableMonitor {
  private stopping = false;
  private loop: Promise<void> | null = null;
  private sessions = new Map<string, SqlSession | null>();
  /** The most instances seen writable in one sample, and when. */
  most = 0;
  mostAt: number | null = null;
  samples = 0;

  constructor(
    private readonly instances: () => { name: string; endpoint: Endpoint }[],
    private readonly credentials: Credentials,
    private readonly intervalMs = 50,
    /**
     * Where the monitor connects from: the load balancer's address, which a partition scenario leaves
     * reachable (an instance the monitor cannot reach would count as not writable, hiding two writers).
     */
    private readonly localAddress?: string,
  ) {}

  start(maxDurationMs = 600_000): void {
    const started = Date.now();
    this.loop = (async () => {
      while (!this.stopping && Date.now() - started < maxDurationMs) {
        const begun = Date.now();
        const states = await Promise.all(this.instances().map((i) => this.writable(i.name, i.endpoint)));
        const writable = states.filter(Boolean).length;
        this.samples++;
        if (writable > this.most) {
          this.most = writable;
          this.mostAt = begun;
        }
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(0, this.intervalMs - (Date.now() - begun))),
        );
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await Promise.all(
      [...this.sessions.values()].flatMap((s) => (s ? [s.close().catch(() => undefined)] : [])),
    );
    this.sessions.clear();
  }

  private async writable(name: string, endpoint: Endpoint): Promise<boolean> {
    try {
      let session = this.sessions.get(name) ?? null;
      session ??= await connectSql(endpoint, this.credentials, {
        connectTimeoutMs: 200,
        queryTimeoutMs: 200,
        localAddress: this.localAddress,
      });
      this.sessions.set(name, session);
      const [row] = await session.query("SELECT @@global.read_only AS ro");
      return Number(row?.ro) === 0;
    } catch {
      await this.sessions
        .get(name)
        ?.close()
        .catch(() => undefined);
      this.sessions.set(name, null);
      return false;
    }
  }
}

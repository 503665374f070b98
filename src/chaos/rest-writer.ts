import { errorMessage } from "../errors.js";
import { restNonce, signIn } from "../wordpress/sign-in.js";
import type { Sample } from "./timeline.js";

/** Posts this writer made, and which of them WordPress acknowledged (HTTP 201). */
export interface RestWriterReport {
  /** Titles of posts WordPress answered 201 for: these must never be lost. */
  acknowledged: string[];
  /** Titles of posts that failed or got no answer: each may or may not exist. */
  unacknowledged: string[];
}

/**
 * A WordPress author writing through the REST API (`POST /wp-json/wp/v2/posts`, drafts), through the
 * HTTP load balancer, one post after another, remembering which were acknowledged.
 *
 * It signs in as the site's administrator and sends the login cookie with a REST nonce, as the block
 * editor does. Not an application password: WordPress offers those only over HTTPS (or on a site
 * whose environment type is `local`), and the local site serves plain HTTP on loopback; changing
 * either for a test would weaken the site being proven.
 */
export class RestWriter {
  private stopping = false;
  private running: Promise<RestWriterReport> | null = null;
  private cookie = "";
  private nonce = "";

  constructor(
    private readonly siteUrl: URL,
    private readonly user: string,
    private readonly password: string,
    /** Makes titles unique to this run: `hapress-chaos-<runId>-<n>`. */
    private readonly runId: string,
    private readonly onAttempt: (sample: Sample) => void = () => undefined,
    private readonly timeoutMs = 10_000,
  ) {}

  /** Signs in and takes a REST nonce; fails with the reason when WordPress refuses. */
  async signIn(): Promise<void> {
    this.cookie = await signIn(this.siteUrl, this.user, this.password, this.timeoutMs);
    this.nonce = await restNonce(this.siteUrl, this.cookie, this.timeoutMs);
  }

  start(maxDurationMs = 600_000): void {
    this.running = this.loop(maxDurationMs);
  }

  async stop(): Promise<RestWriterReport> {
    this.stopping = true;
    if (!this.running) throw new Error("the REST writer was not started");
    return this.running;
  }

  private async postOnce(title: string): Promise<string | null> {
    try {
      const response = await fetch(new URL("/wp-json/wp/v2/posts", this.siteUrl), {
        method: "POST",
        headers: { "content-type": "application/json", cookie: this.cookie, "x-wp-nonce": this.nonce },
        body: JSON.stringify({ title, status: "draft", content: "Written by hapress chaos." }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.arrayBuffer();
      return response.status === 201 ? null : `HTTP ${response.status}`;
    } catch (error) {
      return errorMessage(error).slice(0, 200);
    }
  }

  private async loop(maxDurationMs: number): Promise<RestWriterReport> {
    const started = Date.now();
    const acknowledged: string[] = [];
    const unacknowledged: string[] = [];
    // Bounded by the stop flag and by maxDurationMs.
    for (let n = 1; !this.stopping && Date.now() - started < maxDurationMs; n++) {
      const title = `hapress-chaos-${this.runId}-${n}`;
      const error = await this.postOnce(title);
      this.onAttempt({ at: Date.now(), ok: error === null, ...(error === null ? {} : { error }) });
      if (error === null) acknowledged.push(title);
      else {
        unacknowledged.push(title);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    return { acknowledged, unacknowledged };
  }
}

import { errorMessage, HapressError } from "../errors.js";
import type { Sample } from "./timeline.js";

/** Posts this writer made, and which of them WordPress acknowledged (HTTP 201). */
export interface RestWriterReport {
  /** Titles of posts WordPress answered 201 for: these must never be lost. */
  acknowledged: string[];
  /** Titles of posts that failed or got no answer: each may or may not exist. */
  unacknowledged: string[];
}

/** The cookies of a Set-Cookie list as one Cookie header (names and values only). */
export function cookieHeader(setCookies: readonly string[]): string {
  return setCookies
    .map((line) => line.split(";")[0]?.trim() ?? "")
    .filter((pair) => pair.includes("=") && !/=deleted$/.test(pair))
    .join("; ");
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
    const login = await fetch(new URL("/wp-login.php", this.siteUrl), {
      method: "POST",
      redirect: "manual",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        cookie: "wordpress_test_cookie=WP%20Cookie%20check",
      },
      body: new URLSearchParams({ log: this.user, pwd: this.password, testcookie: "1" }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await login.arrayBuffer();
    this.cookie = cookieHeader(login.headers.getSetCookie());
    if (login.status !== 302 || !/wordpress_logged_in_/.test(this.cookie))
      throw new HapressError(`WordPress refused the sign-in of '${this.user}' (HTTP ${login.status})`);
    const nonce = await fetch(new URL("/wp-admin/admin-ajax.php?action=rest-nonce", this.siteUrl), {
      headers: { cookie: this.cookie },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    this.nonce = (await nonce.text()).trim();
    if (nonce.status !== 200 || !/^[0-9a-f]{10}$/.test(this.nonce))
      throw new HapressError(`WordPress gave no REST nonce (HTTP ${nonce.status})`);
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

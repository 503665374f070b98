import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { sleep } from "../src/util/process.js";
import { eventually, makeSiteDir, TestSite } from "./helpers/site.js";
import { cookieHeader, keepCookies, login, restNonce, type Jar } from "./helpers/wordpress.js";

const PORT = 18_483;
const HOST = `127.0.0.1:${PORT}`;
const SITE = `http://${HOST}`;
/** Answered from the cache: fresh, or (the TTL is 1 s) a copy being refreshed in the background. */
const FROM_CACHE = /^(HIT|STALE|UPDATING)$/;

interface Page {
  status: number;
  cache: string;
  body: string;
}

async function fetchPage(url: string, init: RequestInit = {}): Promise<Page> {
  const response = await fetch(url, { redirect: "manual", ...init });
  return {
    status: response.status,
    cache: response.headers.get("x-hapress-cache") ?? "",
    body: await response.text(),
  };
}

/** GET straight from one pod's nginx, as the load balancer would ask it (with the public Host). */
function fromPod(address: string, path: string): Promise<Page> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, headers: { host: HOST } }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          cache: String(response.headers["x-hapress-cache"] ?? ""),
          body,
        }),
      );
    });
    req.on("error", reject);
    req.setTimeout(15_000, () => req.destroy(new Error("timed out")));
    req.end();
  });
}

describe("the page cache: anonymous readers from cache, everyone else from WordPress", () => {
  // A 1 s TTL: the cache expires under the tests, so what they see is the refresh and the stale
  // copies at work, not merely a long freshness.
  const site = new TestSite(
    makeSiteDir("pc"),
    `local:\n  httpPort: ${PORT}\nwordpress:\n  replicas: 2\n  pageCache:\n    ttlSeconds: 1\nsite:\n  title: Cache Test\n`,
  );
  const admin = () => {
    const secrets = site.secrets();
    return { user: "admin", password: secrets.wordpressAdminPassword };
  };
  before(async () => {
    await site.up();
  });
  after(async () => {
    await site.destroy();
  });

  it("serves an anonymous reader from the cache after the first request; never a POST, a search or a HEAD", async () => {
    // Each pod has a cache of its own: the first request to each renders the page.
    await fetchPage(`${SITE}/`);
    await fetchPage(`${SITE}/`);
    for (let i = 0; i < 2; i++) {
      const again = await fetchPage(`${SITE}/`);
      assert.equal(again.status, 200);
      assert.match(again.cache, FROM_CACHE);
      assert.match(again.body, /Cache Test/);
    }
    for (let i = 0; i < 2; i++) {
      const search = await fetchPage(`${SITE}/?s=hello`);
      assert.equal(search.cache, "BYPASS", "a query string is never cached");
      const posted = await fetchPage(`${SITE}/`, { method: "POST", body: "a=1" });
      assert.notEqual(posted.cache, "HIT", "a POST is never answered from the cache");
      const head = await fetch(`${SITE}/`, { method: "HEAD" });
      assert.notEqual(head.headers.get("x-hapress-cache"), "HIT", "a HEAD is never answered from the cache");
    }
  });

  it("gives a logged-in user their own page (BYPASS, with the admin bar) and never shows it to anyone else", async () => {
    const jar = await login(SITE, admin().user, admin().password);
    for (let i = 0; i < 2; i++) {
      const mine = await fetchPage(`${SITE}/`, { headers: { cookie: cookieHeader(jar) } });
      assert.equal(mine.cache, "BYPASS");
      assert.match(mine.body, /id="wpadminbar"/);
    }
    for (let i = 0; i < 3; i++) {
      const anonymous = await fetchPage(`${SITE}/`);
      assert.doesNotMatch(anonymous.body, /wpadminbar|_wpnonce|wp-admin\/post-new/);
    }
  });

  it("shows a commenter their comment awaiting moderation, and nobody else", async () => {
    const hello = (await (await fetch(`${SITE}/?rest_route=/wp/v2/posts/1`)).json()) as { link: string };
    const path = new URL(hello.link).pathname;
    await fetchPage(`${SITE}${path}`);
    await fetchPage(`${SITE}${path}`);
    assert.match((await fetchPage(`${SITE}${path}`)).cache, FROM_CACHE, "the post is cached for readers");
    const jar: Jar = new Map();
    const text = `A first comment ${Date.now()}`;
    const posted = await fetch(`${SITE}/wp-comments-post.php`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        comment_post_ID: "1",
        author: "Reader",
        email: "reader@example.com",
        comment: text,
        "wp-comment-cookies-consent": "yes",
      }),
    });
    await posted.arrayBuffer();
    assert.equal(posted.status, 302, "the comment is accepted");
    keepCookies(jar, posted);
    assert.ok(
      [...jar.keys()].some((name) => name.startsWith("comment_author_")),
      "commenter cookies",
    );
    const theirs = await fetchPage(`${SITE}${path}`, { headers: { cookie: cookieHeader(jar) } });
    assert.equal(theirs.cache, "BYPASS");
    assert.ok(theirs.body.includes(text), "the commenter sees the comment");
    assert.match(theirs.body, /awaiting moderation/);
    const others = await fetchPage(`${SITE}${path}`);
    assert.ok(!others.body.includes(text), "a pending comment is not shown to others");
  });

  it("publishing a post refreshes every pod's cache before the author's request returns", async () => {
    const status = await site.status();
    const pods = status.pods.filter((p) => p.component === "wordpress").map((p) => `${p.address}:${p.port}`);
    assert.equal(pods.length, 2);
    for (const pod of pods) await fromPod(pod, "/"); // each pod's cache holds the home page now
    const jar = await login(SITE, admin().user, admin().password);
    const nonce = await restNonce(SITE, jar);
    const title = `Fresh news ${Date.now()}`;
    const created = await fetch(`${SITE}/?rest_route=/wp/v2/posts`, {
      method: "POST",
      headers: { cookie: cookieHeader(jar), "x-wp-nonce": nonce, "content-type": "application/json" },
      body: JSON.stringify({ title, content: "Read all about it.", status: "publish" }),
    });
    assert.equal(created.status, 201, await created.text());
    for (const pod of pods) {
      const home = await fromPod(pod, "/");
      // From the cache (a HIT, or STALE if a slow machine let the 1 s TTL pass since the refresh), and
      // with the new post: the refreshed copy, stored before the author's request returned.
      assert.match(home.cache, FROM_CACHE, `${pod} answers from its cache`);
      assert.ok(home.body.includes(title), `${pod}'s cached home page shows the new post`);
    }
  });

  it("during kill -9 of the database primary, a reader every 20 ms gets no failed page", async () => {
    const old = (await site.status()).primary ?? "";
    await fetchPage(`${SITE}/`);
    let running = true;
    const failures: string[] = [];
    const caches = new Map<string, number>();
    let ok = 0;
    const reader = (async () => {
      // Bounded by the flag and by 3,000 requests.
      for (let i = 0; running && i < 3000; i++) {
        try {
          const page = await fetchPage(`${SITE}/`, { signal: AbortSignal.timeout(10_000) });
          if (page.status === 200 && page.body.includes("Cache Test")) ok++;
          else failures.push(`HTTP ${page.status} (${page.cache})`);
          caches.set(page.cache, (caches.get(page.cache) ?? 0) + 1);
        } catch (error) {
          failures.push((error as Error).message);
        }
        await sleep(20);
      }
    })();
    await sleep(1500);
    process.kill(await site.mariadbdPid(old), "SIGKILL");
    await eventually(
      `a primary other than ${old}`,
      async () => ((await site.status()).primary ?? old) !== old,
      60_000,
    );
    await sleep(3000);
    running = false;
    await reader;
    assert.deepEqual(failures, [], `answers: ${JSON.stringify([...caches])}`);
    // Read all along (before, during and after), however slowly a busy machine answers.
    assert.ok(ok > 20, `pages read: ${ok}`);
  });

  it("reports what the cache did in status", async () => {
    const status = await site.status();
    assert.ok(status.pageCache, "status has a page cache section");
    assert.equal(status.pageCache.enabled, true);
    assert.equal(status.pageCache.ttlSeconds, 1);
    assert.ok(status.pageCache.hit > 10, JSON.stringify(status.pageCache));
    assert.ok(status.pageCache.bypass > 0, JSON.stringify(status.pageCache));
    assert.ok((status.pageCache.hitRatio ?? 0) > 0.5, JSON.stringify(status.pageCache));
    const text = await site.cli(["status"]);
    assert.match(text.stdout, /page cache: on, TTL 1 s; hit ratio/);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser } from "playwright-core";
import { makeSiteDir, TestSite } from "./helpers/site.js";

const PORT = 18_481;
const SITE = `http://127.0.0.1:${PORT}`;
const TITLE = "Browser Check";

describe("a person in a browser (Debian's chromium driven by playwright-core)", () => {
  const site = new TestSite(
    makeSiteDir("web"),
    `database:\n  replicas: 1\nwordpress:\n  replicas: 2\nlocal:\n  httpPort: ${PORT}\nsite:\n  title: ${TITLE}\n`,
  );
  let browser: Browser | null = null;

  before(async () => {
    await site.up();
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      // The closed network here: no background traffic, no first-run work, no GPU.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await site.destroy();
  });

  it("loads the home page through the load balancer, logs in, publishes a post and sees it on the front page", async () => {
    assert.ok(browser);
    const page = await browser.newPage();
    page.setDefaultTimeout(60_000);
    await page.goto(`${SITE}/`);
    assert.match(await page.title(), new RegExp(TITLE));

    await page.goto(`${SITE}/wp-login.php`);
    await page.fill("#user_login", "admin");
    await page.fill("#user_pass", site.secrets().wordpressAdminPassword);
    await Promise.all([page.waitForURL(/\/wp-admin\/?/), page.click("#wp-submit")]);
    assert.match(await page.content(), /Dashboard/);

    await page.goto(`${SITE}/wp-admin/post-new.php`);
    const postTitle = `Published from a browser ${Date.now()}`;
    const titleField = page.locator('[aria-label="Add title"]');
    await titleField.waitFor();
    // The block editor greets a new user with a modal guide over the page. It is switched off through
    // the editor's own store once the editor is up, rather than closed if it shows within a fixed wait
    // (on a slow machine it showed later and covered the title field).
    await page.evaluate(() => {
      interface EditPost {
        isFeatureActive(feature: string): boolean;
        toggleFeature(feature: string): void;
      }
      const data = (
        window as unknown as { wp: { data: { select(s: string): EditPost; dispatch(s: string): EditPost } } }
      ).wp.data;
      if (data.select("core/edit-post").isFeatureActive("welcomeGuide"))
        data.dispatch("core/edit-post").toggleFeature("welcomeGuide");
    });
    await page.locator(".edit-post-welcome-guide").waitFor({ state: "detached" });
    await titleField.click();
    await page.keyboard.type(postTitle);
    await page.locator(".editor-post-publish-panel__toggle").click();
    await page.locator(".editor-post-publish-panel .editor-post-publish-button").click();
    await page.locator(".post-publish-panel__postpublish-header").waitFor();

    await page.goto(`${SITE}/`);
    assert.match(await page.content(), new RegExp(postTitle));
    await page.close();
  });
});

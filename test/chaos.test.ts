import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser } from "playwright-core";
import type { ScenarioSummary } from "../src/chaos/report.js";
import type { ScenarioRun } from "../src/chaos/runner.js";
import { partitionUnsupported } from "../src/chaos/partition.js";
import { SCENARIOS } from "../src/chaos/scenarios.js";
import { assertRunHeld } from "./helpers/chaos-runs.js";

/** The local target's scenarios (the Kubernetes ones run in test/kube-node.test.ts). */
const LOCAL_SCENARIOS = SCENARIOS.filter((s) => s.targets.includes("local"));
import { makeSiteDir, TestSite } from "./helpers/site.js";

const PORT = 18_492;

describe("hapress chaos: every scenario once on a real site, and its report in a browser", () => {
  const site = new TestSite(
    makeSiteDir("chaos"),
    `database:\n  replicas: 3\nwordpress:\n  replicas: 2\nlocal:\n  httpPort: ${PORT}\n`,
  );
  const reportFile = join(site.workDir, "chaos.html");
  let runs: ScenarioRun[] = [];
  let summary: ScenarioSummary[] = [];
  let browser: Browser | null = null;

  before(async () => {
    await site.up();
  });
  after(async () => {
    await browser?.close();
    await site.destroy();
  });

  it("runs the whole matrix under traffic: no acknowledged write lost, never two writers, failovers only where due, healed every time", async () => {
    const result = await site.cli(
      ["chaos", "--scenario", "all", "--runs", "1", "--report", reportFile, "--json"],
      1_800_000,
    );
    const parsed = JSON.parse(result.stdout || "{}") as { runs?: ScenarioRun[]; summary?: ScenarioSummary[] };
    runs = parsed.runs ?? [];
    summary = parsed.summary ?? [];
    const broken = runs
      .filter((r) => r.problems.length > 0)
      .map((r) => `${r.scenario}: ${r.problems.join("; ")}`);
    assert.deepEqual(broken, [], `guarantees broken:\n${broken.join("\n")}\n${result.stderr}`);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      runs.map((r) => r.scenario),
      LOCAL_SCENARIOS.map((s) => s.name),
      "every scenario ran, in order",
    );
    for (const run of runs) {
      // Only the partition may be skipped, and only where packets cannot be filtered (not root, no nft).
      const skipReason = run.scenario === "primary-partition" ? partitionUnsupported() : null;
      assert.equal(run.skipped, skipReason, `${run.scenario} ran on 3 instances and 2 WordPress pods`);
      if (skipReason) continue;
      assertRunHeld(run);
    }
    const byName = new Map(runs.map((r) => [r.scenario, r]));
    assert.equal(byName.get("saturation")?.failovers, 0, "a slow primary is not failed over");
    assert.equal(byName.get("majority-lost")?.failovers, 0, "no promotion without a majority");
    assert.equal(byName.get("two-failovers")?.failovers, 2);
    if (!partitionUnsupported())
      assert.ok((byName.get("primary-partition")?.failovers ?? 0) >= 1, "a cut-off primary is replaced");
    assert.equal(summary.length, LOCAL_SCENARIOS.length);
  });

  it("writes a report a browser shows: the matrix with every scenario held, a timeline per run with its fault marked", async () => {
    assert.ok(existsSync(reportFile), "the report was written");
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
    // A laptop's screen: the report must read there without scrolling sideways.
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(`file://${reportFile}`);
    assert.deepEqual(
      requests.filter((url) => !url.startsWith("file://")),
      [],
      "self-contained: nothing fetched",
    );
    const rows = await page.locator("#matrix tbody tr").evaluateAll((trs) =>
      trs.map((tr) => ({
        scenario: tr.getAttribute("data-scenario"),
        verdict: tr.querySelector(".verdict")?.textContent,
        lost: tr.querySelector(".lost")?.textContent,
      })),
    );
    assert.deepEqual(
      rows.map((r) => r.scenario),
      LOCAL_SCENARIOS.map((s) => s.name),
    );
    for (const row of rows) {
      if (row.scenario === "primary-partition" && partitionUnsupported()) continue;
      assert.equal(row.verdict, "held", `${row.scenario}`);
      assert.equal(row.lost, "0", `${row.scenario}`);
    }
    const timelines = page.locator("svg.timeline");
    assert.equal(await timelines.count(), runs.length);
    // Each timeline is drawn: bars of successes, and the fault's mark where the runner put it.
    const kill = page.locator('svg.timeline[data-scenario="primary-kill"]');
    assert.ok((await kill.locator("rect.ok").count()) > 10, "bars of successful requests");
    assert.match((await kill.locator(".mark text").allTextContents()).join(" "), /kill -9 mysql-\d/);
    assert.ok(((await kill.boundingBox())?.width ?? 0) > 0, "visible");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a 1280 px window`);
    // No mark label prints over another, and each stays inside its timeline.
    const labelProblems = await timelines.evaluateAll((svgs) =>
      svgs.flatMap((svg) => {
        const frame = svg.getBoundingClientRect();
        const boxes = [...svg.querySelectorAll(".mark text")].map((text) => ({
          label: text.textContent ?? "",
          box: text.getBoundingClientRect(),
        }));
        const where = svg.getAttribute("aria-label") ?? "?";
        return boxes.flatMap((a, i) => [
          ...(a.box.left < frame.left || a.box.right > frame.right ? [`${where}: "${a.label}" outside`] : []),
          ...boxes
            .slice(i + 1)
            .filter(
              (b) =>
                a.box.left < b.box.right &&
                b.box.left < a.box.right &&
                a.box.top < b.box.bottom &&
                b.box.top < a.box.bottom,
            )
            .map((b) => `${where}: "${a.label}" over "${b.label}"`),
        ]);
      }),
    );
    assert.deepEqual(labelProblems, []);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderReport, summarizeScenarios } from "./report.js";
import type { ScenarioRun } from "./runner.js";
import { pickScenarios, SCENARIOS } from "./scenarios.js";
import { bucketize, summarizeChannel } from "./timeline.js";

const start = Date.UTC(2026, 10, 30, 2, 0, 0);

function run(scenario: string, index: number, changes: Partial<ScenarioRun> = {}): ScenarioRun {
  const reads = [
    { at: start + 500, ok: true },
    { at: start + 1_500, ok: false },
    { at: start + 2_500, ok: true },
  ];
  const writes = [
    { at: start + 400, ok: true },
    { at: start + 3_000, ok: true },
  ];
  const posts = [
    { at: start + 600, ok: true },
    { at: start + 1_600, ok: false },
  ];
  return {
    scenario,
    fault: `${scenario} <fault>`,
    run: index,
    skipped: null,
    startedAt: new Date(start).toISOString(),
    reads: summarizeChannel(reads, start, start + 4_000),
    writes: summarizeChannel(writes, start, start + 4_000),
    posts: summarizeChannel(posts, start, start + 4_000),
    acknowledged: 2,
    lost: 0,
    unacknowledgedPresent: 0,
    postsAcknowledged: 1,
    postsLost: 0,
    postsUnacknowledgedPresent: 0,
    mostWriters: 1,
    failovers: 1,
    primaryBefore: "mysql-0",
    primaryAfter: "mysql-1",
    healedSeconds: 2 + index,
    problems: [],
    marks: [{ at: start + 1_000, label: "kill -9 mysql-0" }],
    events: [{ time: new Date(start + 1_200).toISOString(), kind: "failover", message: "mysql-1 promoted" }],
    timeline: {
      start,
      end: start + 4_000,
      widthMs: 100,
      reads: bucketize(reads, start, start + 4_000),
      writes: bucketize(writes, start, start + 4_000),
      posts: bucketize(posts, start, start + 4_000),
    },
    ...changes,
  };
}

describe("the chaos matrix and its report", () => {
  const runs = [
    run("primary-kill", 1),
    run("primary-kill", 2, { lost: 3, postsLost: 1, problems: ["3 acknowledged write(s) lost"] }),
    { ...run("majority-lost", 1), skipped: "needs exactly 3 database instances" },
  ];

  it("summarizes each scenario across its runs", () => {
    const [kill, majority] = summarizeScenarios(runs);
    assert.equal(kill?.runs, 2);
    assert.equal(kill?.lost, 3);
    assert.equal(kill?.postsLost, 1);
    assert.equal(kill?.postsAcknowledged, 2);
    assert.equal(kill?.failedRequests, 4, "a failed read and a failed post in each run");
    assert.equal(kill?.broken, 1);
    assert.equal(kill?.writeOutageMaxMs, 2_600);
    assert.equal(kill?.healedMedianSeconds, 3.5);
    assert.equal(majority?.runs, 0);
    assert.equal(majority?.skipped, "needs exactly 3 database instances");
  });

  it("renders one self-contained page: the matrix, a timeline per run, text escaped", () => {
    const html = renderReport([{ target: "local", site: "blog <test>", runs }], {
      generatedAt: "now",
      host: "here",
    });
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, "no script, nothing fetched");
    assert.equal((html.match(/<tr class="/g) ?? []).length, 2, "one row per scenario");
    assert.match(html, /<tr class="broken" data-scenario="primary-kill">/);
    assert.match(html, /<tr class="skipped" data-scenario="majority-lost">/);
    assert.equal(
      (html.match(/<svg class="timeline"/g) ?? []).length,
      2,
      "a timeline per run, none when skipped",
    );
    assert.match(html, /blog &#60;test&#62;/);
    assert.match(html, /primary-kill &#60;fault&#62;/);
    assert.match(html, /kill -9 mysql-0/);
    assert.match(html, /<td class="posts-lost">1 of 2<\/td>/);
    assert.match(html, />posts<\/text>/, "the posts have their row in the timeline");
    assert.match(html, /<title>[^<]*failover: mysql-1 promoted<\/title>/);
  });

  it("puts two targets side by side: each scenario's rows together, a target column, each target's runs", () => {
    const kubernetes = [run("primary-kill", 1, { healedSeconds: 9 }), run("replica-kill", 1)];
    const html = renderReport(
      [
        { target: "local", site: "blog", runs },
        { target: "kubernetes", site: "blog", runs: kubernetes },
      ],
      { generatedAt: "now", host: "here" },
    );
    const rows = [...html.matchAll(/<tr class="\w+" data-scenario="([^"]+)" data-target="([^"]+)">/g)].map(
      (m) => `${m[1]}/${m[2]}`,
    );
    assert.deepEqual(rows, [
      "primary-kill/local",
      "primary-kill/kubernetes",
      "majority-lost/local",
      "replica-kill/kubernetes",
    ]);
    assert.match(html, /<th title="[^"]*">target<\/th>/);
    assert.match(html, /<title>hapress chaos report: local \(blog\) beside kubernetes \(blog\)<\/title>/);
    assert.match(html, /<section class="run" id="kubernetes-primary-kill-1">/);
    assert.match(html, /<section class="run" id="local-primary-kill-2">/);
    assert.equal((html.match(/<svg class="timeline"/g) ?? []).length, 4);
  });

  it("picks scenarios by name, list or all for a target, and names the unknown and the other target's ones", () => {
    const local = pickScenarios("all", "local");
    assert.ok(Array.isArray(local));
    assert.equal(local.length, 15, "the local matrix keeps its 15 scenarios");
    assert.ok(local.every((s) => s.targets.includes("local")));
    const kube = pickScenarios("all", "kubernetes");
    assert.ok(Array.isArray(kube));
    assert.ok(kube.some((s) => s.name === "primary-pod-force-delete"));
    assert.ok(!kube.some((s) => s.name === "supervisor-kill"), "no supervisor on Kubernetes");
    assert.deepEqual(
      SCENARIOS.filter((s) => !local.includes(s) && !kube.includes(s)),
      [],
      "every scenario runs somewhere",
    );
    const picked = pickScenarios("primary-kill,switchover", "local");
    assert.ok(Array.isArray(picked));
    assert.deepEqual(
      picked.map((s) => s.name),
      ["primary-kill", "switchover"],
    );
    assert.deepEqual(pickScenarios("primary-kill,nope", "local"), { unknown: ["nope"], elsewhere: [] });
    assert.deepEqual(pickScenarios("supervisor-kill,switchover", "kubernetes"), {
      unknown: [],
      elsewhere: ["supervisor-kill"],
    });
  });
});

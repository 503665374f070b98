import type { ScenarioRun } from "./runner.js";
import type { Bucket } from "./timeline.js";
import { median } from "./timeline.js";
import { placeLabels } from "./timeline-labels.js";

/**
 * The chaos report (pure): one self-contained HTML file (no script, no network), a summary table of
 * the matrix, then each run's timeline as SVG: successes and failures per 100 ms for reads and
 * writes, with the faults, the recovery and the controller's events marked on it.
 */

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const percent = (value: number) => `${value.toFixed(2)} %`;

export interface ScenarioSummary {
  scenario: string;
  runs: number;
  skipped: string | null;
  readAvailabilityMin: number;
  writeAvailabilityMin: number;
  readOutageMedianMs: number;
  writeOutageMedianMs: number;
  writeOutageMaxMs: number;
  failedRequests: number;
  lost: number;
  unacknowledgedPresent: number;
  postsAcknowledged: number;
  postsLost: number;
  postOutageMedianMs: number;
  mostWriters: number;
  failovers: number;
  healedMedianSeconds: number | null;
  broken: number;
}

/** One line of the matrix per scenario (pure). */
export function summarizeScenarios(runs: readonly ScenarioRun[]): ScenarioSummary[] {
  const names = [...new Set(runs.map((r) => r.scenario))];
  return names.map((scenario) => {
    const all = runs.filter((r) => r.scenario === scenario);
    const done = all.filter((r) => !r.skipped);
    const healed = done.flatMap((r) => (r.healedSeconds === null ? [] : [r.healedSeconds]));
    return {
      scenario,
      runs: done.length,
      skipped: done.length === 0 ? (all[0]?.skipped ?? null) : null,
      readAvailabilityMin: Math.min(100, ...done.map((r) => r.reads.availability)),
      writeAvailabilityMin: Math.min(100, ...done.map((r) => r.writes.availability)),
      readOutageMedianMs: done.length ? median(done.map((r) => r.reads.longestOutageMs)) : 0,
      writeOutageMedianMs: done.length ? median(done.map((r) => r.writes.longestOutageMs)) : 0,
      writeOutageMaxMs: Math.max(0, ...done.map((r) => r.writes.longestOutageMs)),
      failedRequests: done.reduce((n, r) => n + r.reads.failed + r.writes.failed + r.posts.failed, 0),
      lost: done.reduce((n, r) => n + r.lost, 0),
      unacknowledgedPresent: done.reduce(
        (n, r) => n + r.unacknowledgedPresent + r.postsUnacknowledgedPresent,
        0,
      ),
      postsAcknowledged: done.reduce((n, r) => n + r.postsAcknowledged, 0),
      postsLost: done.reduce((n, r) => n + r.postsLost, 0),
      postOutageMedianMs: done.length ? median(done.map((r) => r.posts.longestOutageMs)) : 0,
      mostWriters: Math.max(0, ...done.map((r) => r.mostWriters)),
      failovers: done.reduce((n, r) => n + r.failovers, 0),
      healedMedianSeconds: healed.length ? median(healed) : null,
      broken: done.filter((r) => r.problems.length > 0).length,
    };
  });
}

const WIDTH = 900;
const ROW = 60;

function bars(buckets: Bucket[], top: number): string {
  const peak = Math.max(1, ...buckets.map((b) => b.ok + b.failed));
  const width = WIDTH / Math.max(1, buckets.length);
  return buckets
    .map((b, i) => {
      const ok = (b.ok / peak) * (ROW - 10);
      const failed = (b.failed / peak) * (ROW - 10);
      const x = (i * width).toFixed(1);
      const w = Math.max(0.5, width - 0.2).toFixed(1);
      return (
        (b.ok
          ? `<rect class="ok" x="${x}" y="${(top + ROW - ok).toFixed(1)}" width="${w}" height="${ok.toFixed(1)}"/>`
          : "") +
        (b.failed
          ? `<rect class="failed" x="${x}" y="${(top + ROW - ok - failed).toFixed(1)}" width="${w}" height="${failed.toFixed(1)}"/>`
          : "")
      );
    })
    .join("");
}

/** The height of a lane of mark labels under the chart. */
const LANE = 14;

/** A run's timeline as an inline SVG. */
export function timelineSvg(run: ScenarioRun): string {
  const { start, end } = run.timeline;
  const span = Math.max(1, end - start);
  const xOf = (at: number) => ((at - start) / span) * WIDTH;
  const eventsY = 3 * ROW + 40;
  const firstLaneY = eventsY + 22;
  const marks = [...run.marks].sort((a, b) => a.at - b.at);
  const placed = placeLabels(
    marks.map((m) => ({ x: xOf(m.at), label: m.label })),
    WIDTH,
  );
  const lanes = Math.max(1, ...placed.map((p) => p.lane + 1));
  const height = firstLaneY + lanes * LANE + 16;
  const markSvg = marks
    .map((m, i) => {
      const { lane, anchor } = placed[i] ?? { lane: 0, anchor: "start" };
      const x = xOf(m.at).toFixed(1);
      const y = firstLaneY + lane * LANE;
      return `<g class="mark"><line x1="${x}" x2="${x}" y1="18" y2="${y - 10}"/><text x="${x}" y="${y}" text-anchor="${anchor}">${escape(m.label)}</text></g>`;
    })
    .join("");
  const events = run.events
    .map(
      (e) =>
        `<g class="event"><title>${escape(`${e.time} ${e.kind}: ${e.message}`)}</title><circle cx="${xOf(Date.parse(e.time)).toFixed(1)}" cy="${eventsY}" r="4"/></g>`,
    )
    .join("");
  return `<svg class="timeline" data-scenario="${escape(run.scenario)}" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escape(`${run.scenario} run ${run.run}`)}">
<text class="label" x="2" y="32">reads</text>${bars(run.timeline.reads, 20)}
<text class="label" x="2" y="${ROW + 32}">writes</text>${bars(run.timeline.writes, ROW + 24)}
<text class="label" x="2" y="${2 * ROW + 36}">posts</text>${bars(run.timeline.posts, 2 * ROW + 28)}
${markSvg}${events}
<text class="axis" x="0" y="${height - 4}">0 s</text><text class="axis" x="${WIDTH}" y="${height - 4}" text-anchor="end">${escape(seconds(span))}</text>
</svg>`;
}

/** The runs of one target (local, kubernetes) against one site: a report shows one set or several. */
export interface RunSet {
  target: string;
  site: string;
  runs: readonly ScenarioRun[];
}

function verdict(s: ScenarioSummary): string {
  if (s.skipped) return `skipped: ${escape(s.skipped)}`;
  return s.broken > 0 ? `<strong>BROKEN in ${s.broken} run(s)</strong>` : "held";
}

function matrixRow(s: ScenarioSummary, target: string | null): string {
  return `<tr class="${s.skipped ? "skipped" : s.broken ? "broken" : "held"}" data-scenario="${escape(s.scenario)}"${target === null ? "" : ` data-target="${escape(target)}"`}>
<td>${escape(s.scenario)}</td>${target === null ? "" : `<td class="target">${escape(target)}</td>`}<td>${s.runs}</td><td>${percent(s.readAvailabilityMin)}</td><td>${percent(s.writeAvailabilityMin)}</td>
<td>${seconds(s.readOutageMedianMs)}</td><td>${seconds(s.writeOutageMedianMs)} / ${seconds(s.writeOutageMaxMs)}</td>
<td>${s.failedRequests}</td><td class="lost">${s.lost}</td><td class="posts-lost">${s.postsLost} of ${s.postsAcknowledged}</td><td>${s.unacknowledgedPresent}</td><td class="writers">${s.mostWriters}</td>
<td>${s.failovers}</td><td>${s.healedMedianSeconds === null ? "-" : `${s.healedMedianSeconds.toFixed(1)} s`}</td><td class="verdict">${verdict(s)}</td></tr>`;
}

/**
 * The matrix: one row per scenario, or with several targets one row per scenario and target, the
 * targets of a scenario next to each other so each cell reads against the one below it.
 */
function matrix(sets: readonly RunSet[]): string {
  const compared = sets.length > 1;
  const summaries = sets.map((set) => ({ target: set.target, rows: summarizeScenarios(set.runs) }));
  const scenarios = [...new Set(summaries.flatMap((s) => s.rows.map((row) => row.scenario)))];
  const rows = scenarios.flatMap((scenario) =>
    summaries.flatMap(({ target, rows }) =>
      rows.filter((row) => row.scenario === scenario).map((row) => matrixRow(row, compared ? target : null)),
    ),
  );
  // Short headers, explained in a tooltip: fourteen columns fit a laptop's window.
  const headers: [string, string][] = [
    ["scenario", ""],
    ...(compared ? ([["target", "where the runs ran"]] as [string, string][]) : []),
    ["runs", "runs made"],
    ["reads served (min)", "share of page reads answered 200, the lowest of the runs"],
    ["writes served (min)", "share of inserts through mysql-primary acknowledged, the lowest of the runs"],
    ["read outage (median)", "the longest stretch without a successful page read, median of the runs"],
    ["write outage (median / max)", "the longest stretch without an acknowledged insert"],
    ["failed requests", "page reads, inserts and posts that failed, all runs"],
    ["writes lost", "acknowledged inserts missing afterwards: must be 0"],
    ["posts lost", "acknowledged REST posts missing afterwards, of those acknowledged: must be 0"],
    ["unacked but present", "writes and posts never acknowledged that exist afterwards (allowed)"],
    ["most writers", "the most instances accepting writes in one 50 ms sample: must be 1"],
    ["failovers", "changes of primary by the controller's epoch, all runs"],
    ["whole again (median)", "from the fault until every pod is back and replicating"],
    ["guarantees", ""],
  ];
  // Fixed widths: the table fits the window (a laptop's 1280 px) and long words wrap in their cell.
  const columns = headers
    .map(([h]) => (["scenario", "target", "guarantees"].includes(h) ? `<col class="${h}">` : "<col>"))
    .join("");
  return `<table id="matrix"><colgroup>${columns}</colgroup><thead><tr>${headers.map(([h, why]) => (why ? `<th title="${escape(why)}">${h}</th>` : `<th>${h}</th>`)).join("")}</tr></thead>
<tbody>
${rows.join("\n")}
</tbody></table>`;
}

function runSection(r: ScenarioRun, target: string | null): string {
  const id = `${target === null ? "" : `${target}-`}${r.scenario}-${r.run}`;
  return `<section class="run" id="${escape(id)}">
<h3>${target === null ? "" : `${escape(target)}: `}${escape(r.scenario)} — run ${r.run}</h3>
<p>${escape(r.fault)}. Primary ${escape(r.primaryBefore ?? "none")} → ${escape(r.primaryAfter ?? "none")}; ${r.failovers} failover(s);
whole again after ${r.healedSeconds === null ? "—" : `${r.healedSeconds.toFixed(1)} s`}. Reads ${percent(r.reads.availability)} (longest outage ${seconds(r.reads.longestOutageMs)}),
writes ${percent(r.writes.availability)} (longest outage ${seconds(r.writes.longestOutageMs)}); ${r.acknowledged} acknowledged, ${r.lost} lost, ${r.unacknowledgedPresent} unacknowledged present;
posts ${percent(r.posts.availability)} (longest outage ${seconds(r.posts.longestOutageMs)}); ${r.postsAcknowledged} acknowledged, ${r.postsLost} lost, ${r.postsUnacknowledgedPresent} unacknowledged present; at most ${r.mostWriters} writable at once.</p>
${r.problems.length ? `<ul class="problems">${r.problems.map((p) => `<li>${escape(p)}</li>`).join("")}</ul>` : ""}
${timelineSvg(r)}
${r.events.length ? `<details><summary>${r.events.length} controller event(s)</summary><ul>${r.events.map((e) => `<li>${escape(e.time)} <b>${escape(e.kind)}</b> ${escape(e.message)}</li>`).join("")}</ul></details>` : ""}
</section>`;
}

/** The report of one target's runs, or of several targets side by side (the matrix), one per set. */
export function renderReport(sets: readonly RunSet[], meta: { generatedAt: string; host: string }): string {
  const compared = sets.length > 1;
  const title = sets.map((set) => (compared ? `${set.target} (${set.site})` : set.site)).join(" beside ");
  const details = sets
    .map(
      (set) =>
        `${compared ? `<h2>Runs: ${escape(set.target)}</h2>` : ""}\n${set.runs
          .filter((r) => !r.skipped)
          .map((r) => runSection(r, compared ? set.target : null))
          .join("\n")}`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hapress chaos report: ${escape(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;width:100%;table-layout:fixed}td,th{border:1px solid #ccc;padding:3px 5px;text-align:right}td:first-child{overflow-wrap:anywhere}
th{font-size:12px;font-weight:600;vertical-align:bottom}td:first-child,td:last-child,th:first-child,th:last-child,td.target{text-align:left}
col.scenario{width:14%}col.target{width:7%}col.guarantees{width:10%}
tr.broken{background:#fdd}tr.skipped{color:#888}
svg.timeline{border:1px solid #ddd;background:#fafafa;margin:8px 0;max-width:100%;height:auto}
rect.ok{fill:#3a3}rect.failed{fill:#d33}.mark line{stroke:#06c;stroke-dasharray:4 3}.mark text{fill:#06c;font-size:11px}
.event circle{fill:#f90}.label,.axis{font-size:11px;fill:#555}.problems{color:#b00}
</style></head><body>
<h1>Chaos report: ${escape(title)}</h1>
<p>Generated ${escape(meta.generatedAt)} on ${escape(meta.host)}. Traffic during every run: pages through the HTTP load balancer (several clients), inserts through <code>mysql-primary</code>, WordPress posts created through the REST API (signed in as the administrator), and a sample of every instance every 50 ms counting those that accept writes. Green: successes per 100 ms; red: failures; blue lines: the fault and the recovery; orange dots: the controller's events.</p>
<h2>Matrix</h2>
${matrix(sets)}
${compared ? "" : "<h2>Runs</h2>"}
${details}
</body></html>
`;
}

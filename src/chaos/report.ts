import type { ScenarioRun } from "./runner.js";
import type { Bucket } from "./timeline.js";
import { median } from "./timeline.js";

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

/** A run's timeline as an inline SVG. */
export function timelineSvg(run: ScenarioRun): string {
  const { start, end } = run.timeline;
  const span = Math.max(1, end - start);
  const x = (at: number) => (((at - start) / span) * WIDTH).toFixed(1);
  const height = 3 * ROW + 74;
  const marks = run.marks
    .map(
      (m, i) =>
        `<g class="mark"><line x1="${x(m.at)}" x2="${x(m.at)}" y1="18" y2="${3 * ROW + 28}"/><text x="${x(m.at)}" y="${i % 2 === 0 ? 12 : 3 * ROW + 56}">${escape(m.label)}</text></g>`,
    )
    .join("");
  const events = run.events
    .map(
      (e) =>
        `<g class="event"><title>${escape(`${e.time} ${e.kind}: ${e.message}`)}</title><circle cx="${x(Date.parse(e.time))}" cy="${3 * ROW + 40}" r="4"/></g>`,
    )
    .join("");
  return `<svg class="timeline" data-scenario="${escape(run.scenario)}" width="${WIDTH}" height="${height}" viewBox="0 -4 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escape(`${run.scenario} run ${run.run}`)}">
<text class="label" x="2" y="32">reads</text>${bars(run.timeline.reads, 20)}
<text class="label" x="2" y="${ROW + 32}">writes</text>${bars(run.timeline.writes, ROW + 24)}
<text class="label" x="2" y="${2 * ROW + 36}">posts</text>${bars(run.timeline.posts, 2 * ROW + 28)}
${marks}${events}
<text class="axis" x="0" y="${height - 8}">0 s</text><text class="axis" x="${WIDTH - 40}" y="${height - 8}">${escape(seconds(span))}</text>
</svg>`;
}

export function renderReport(
  runs: readonly ScenarioRun[],
  meta: { site: string; generatedAt: string; host: string },
): string {
  const summary = summarizeScenarios(runs);
  const verdict = (s: ScenarioSummary) =>
    s.skipped
      ? `skipped: ${escape(s.skipped)}`
      : s.broken > 0
        ? `<strong>BROKEN in ${s.broken} run(s)</strong>`
        : "held";
  const rows = summary
    .map(
      (
        s,
      ) => `<tr class="${s.skipped ? "skipped" : s.broken ? "broken" : "held"}" data-scenario="${escape(s.scenario)}">
<td>${escape(s.scenario)}</td><td>${s.runs}</td><td>${percent(s.readAvailabilityMin)}</td><td>${percent(s.writeAvailabilityMin)}</td>
<td>${seconds(s.readOutageMedianMs)}</td><td>${seconds(s.writeOutageMedianMs)} / ${seconds(s.writeOutageMaxMs)}</td>
<td>${s.failedRequests}</td><td class="lost">${s.lost}</td><td class="posts-lost">${s.postsLost} of ${s.postsAcknowledged}</td><td>${s.unacknowledgedPresent}</td><td class="writers">${s.mostWriters}</td>
<td>${s.failovers}</td><td>${s.healedMedianSeconds === null ? "-" : `${s.healedMedianSeconds.toFixed(1)} s`}</td><td class="verdict">${verdict(s)}</td></tr>`,
    )
    .join("\n");
  const details = runs
    .filter((r) => !r.skipped)
    .map(
      (r) => `<section class="run" id="${escape(`${r.scenario}-${r.run}`)}">
<h3>${escape(r.scenario)} — run ${r.run}</h3>
<p>${escape(r.fault)}. Primary ${escape(r.primaryBefore ?? "none")} → ${escape(r.primaryAfter ?? "none")}; ${r.failovers} failover(s);
whole again after ${r.healedSeconds === null ? "—" : `${r.healedSeconds.toFixed(1)} s`}. Reads ${percent(r.reads.availability)} (longest outage ${seconds(r.reads.longestOutageMs)}),
writes ${percent(r.writes.availability)} (longest outage ${seconds(r.writes.longestOutageMs)}); ${r.acknowledged} acknowledged, ${r.lost} lost, ${r.unacknowledgedPresent} unacknowledged present;
posts ${percent(r.posts.availability)} (longest outage ${seconds(r.posts.longestOutageMs)}); ${r.postsAcknowledged} acknowledged, ${r.postsLost} lost, ${r.postsUnacknowledgedPresent} unacknowledged present; at most ${r.mostWriters} writable at once.</p>
${r.problems.length ? `<ul class="problems">${r.problems.map((p) => `<li>${escape(p)}</li>`).join("")}</ul>` : ""}
${timelineSvg(r)}
${r.events.length ? `<details><summary>${r.events.length} controller event(s)</summary><ul>${r.events.map((e) => `<li>${escape(e.time)} <b>${escape(e.kind)}</b> ${escape(e.message)}</li>`).join("")}</ul></details>` : ""}
</section>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hapress chaos report: ${escape(meta.site)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,td:last-child,th:first-child{text-align:left}
tr.broken{background:#fdd}tr.skipped{color:#888}
svg.timeline{border:1px solid #ddd;background:#fafafa;margin:8px 0}
rect.ok{fill:#3a3}rect.failed{fill:#d33}.mark line{stroke:#06c;stroke-dasharray:4 3}.mark text{fill:#06c;font-size:11px}
.event circle{fill:#f90}.label,.axis{font-size:11px;fill:#555}.problems{color:#b00}
</style></head><body>
<h1>Chaos report: ${escape(meta.site)}</h1>
<p>Generated ${escape(meta.generatedAt)} on ${escape(meta.host)}. Traffic during every run: pages through the HTTP load balancer (several clients), inserts through <code>mysql-primary</code>, WordPress posts created through the REST API (signed in as the administrator), and a sample of every instance every 50 ms counting those that accept writes. Green: successes per 100 ms; red: failures; blue lines: the fault and the recovery; orange dots: the controller's events.</p>
<h2>Matrix</h2>
<table id="matrix"><thead><tr><th>scenario</th><th>runs</th><th>reads available (min)</th><th>writes available (min)</th><th>longest read outage (median)</th><th>longest write outage (median / max)</th><th>failed requests</th><th>acknowledged writes lost</th><th>acknowledged posts lost</th><th>unacknowledged present</th><th>most writers at once</th><th>failovers</th><th>whole again (median)</th><th>guarantees</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<h2>Runs</h2>
${details}
</body></html>
`;
}

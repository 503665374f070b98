import { errorMessage, HapressError } from "../errors.js";
import type { SiteStatus } from "../status/site-status.js";
import type { Secrets } from "../state/secrets.js";
import type { FaultPort, RunEvent } from "./faults.js";
import { connectSql, type Endpoint } from "../mysql/client.js";
import { PageReaders } from "./readers.js";
import { RestWriter } from "./rest-writer.js";
import type { Scenario, ScenarioContext } from "./scenarios.js";
import { bucketize, summarizeChannel, type Bucket, type ChannelSummary, type Sample } from "./timeline.js";
import { databasePods, isWhole, waitForStatus } from "./site-waits.js";
import { WritableMonitor } from "./writable-monitor.js";
import { appWriter } from "./writer.js";

/** One run of one scenario: what clients saw, what was lost, and whether a guarantee broke. */
export interface ScenarioRun {
  scenario: string;
  fault: string;
  run: number;
  skipped: string | null;
  startedAt: string;
  reads: ChannelSummary;
  writes: ChannelSummary;
  /** WordPress posts created through the REST API (through the HTTP load balancer). */
  posts: ChannelSummary;
  acknowledged: number;
  /** Acknowledged writes missing from the primary afterwards: a broken guarantee. */
  lost: number;
  /** Writes that failed or got no answer and are present anyway (committed, answer lost). */
  unacknowledgedPresent: number;
  /** The same three for the posts: acknowledged (HTTP 201), missing afterwards, present unacknowledged. */
  postsAcknowledged: number;
  postsLost: number;
  postsUnacknowledgedPresent: number;
  /** The most instances accepting writes in one 50 ms sample: more than 1 is a broken guarantee. */
  mostWriters: number;
  /** Changes of primary during the run (the primary record's epoch). */
  failovers: number;
  primaryBefore: string | null;
  primaryAfter: string | null;
  /** From the fault to the topology whole again (every pod ready, replicas caught up, semi-sync on). */
  healedSeconds: number | null;
  /** What broke; empty when every guarantee held. */
  problems: string[];
  marks: { at: number; label: string }[];
  events: RunEvent[];
  timeline: {
    start: number;
    end: number;
    widthMs: number;
    reads: Bucket[];
    writes: Bucket[];
    posts: Bucket[];
  };
}

/** The accounts the runner's clients use: the app's (writes, posts checked) and the admin's (monitor). */
export type ChaosCredentials = Pick<
  Secrets,
  "appUser" | "appPassword" | "appDatabase" | "adminUser" | "adminPassword"
>;

export interface RunnerOptions {
  faults: FaultPort;
  secrets: ChaosCredentials;
  /** The WordPress administrator the REST writer signs in as (no REST writes without it). */
  wordpressAdmin?: { user: string; password: string };
  log: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
  now?: () => number;
  readers?: number;
  saturationMs?: number;
  /** How long the site may take to heal after a fault. */
  healTimeoutMs?: number;
}

/** The runner's bounded wait: the shared one (site-waits.ts) on the fault port's status. */
function waitFor(
  options: RunnerOptions,
  what: string,
  check: (status: SiteStatus) => boolean,
  timeoutMs: number,
): Promise<SiteStatus> {
  return waitForStatus(
    { status: () => options.faults.status(), sleep: options.sleep, now: options.now },
    what,
    check,
    timeoutMs,
  );
}

/** The titles of this run's posts present on an instance (WordPress's tables, through the app account). */
async function postTitlesOn(
  endpoint: Endpoint,
  secrets: ChaosCredentials,
  runId: string,
): Promise<Set<string>> {
  const session = await connectSql(
    endpoint,
    { user: secrets.appUser, password: secrets.appPassword },
    { database: secrets.appDatabase, queryTimeoutMs: 30_000 },
  );
  try {
    const rows = await session.query("SELECT post_title FROM wp_posts WHERE post_title LIKE ?", [
      `hapress-chaos-${runId}-%`,
    ]);
    return new Set(rows.map((r) => String(r.post_title)));
  } finally {
    await session.close();
  }
}

/**
 * Runs one scenario once on a whole site, with traffic through the user's paths the whole time:
 * pages through the HTTP load balancer (several clients), inserts through `mysql-primary`, and a
 * monitor of how many instances accept writes at once. Then checks every acknowledged write.
 */
export async function runScenario(
  scenario: Scenario,
  run: number,
  options: RunnerOptions,
): Promise<ScenarioRun> {
  const now = options.now ?? Date.now;
  const healTimeoutMs = options.healTimeoutMs ?? 240_000;
  const before = await waitFor(options, "the site whole before the run", isWhole, healTimeoutMs);
  const startedAt = new Date(now()).toISOString();
  const empty: ScenarioRun = {
    scenario: scenario.name,
    fault: scenario.fault,
    run,
    skipped: scenario.unsupported(before, options.faults),
    startedAt,
    reads: summarizeChannel([], 0, 0),
    writes: summarizeChannel([], 0, 0),
    posts: summarizeChannel([], 0, 0),
    acknowledged: 0,
    lost: 0,
    unacknowledgedPresent: 0,
    postsAcknowledged: 0,
    postsLost: 0,
    postsUnacknowledgedPresent: 0,
    mostWriters: 0,
    failovers: 0,
    primaryBefore: before.primary,
    primaryAfter: before.primary,
    healedSeconds: null,
    problems: [],
    marks: [],
    events: [],
    timeline: { start: 0, end: 0, widthMs: 100, reads: [], writes: [], posts: [] },
  };
  if (empty.skipped) {
    options.log(`${scenario.name}: skipped (${empty.skipped})`);
    return empty;
  }
  const readSamples: Sample[] = [];
  const writeSamples: Sample[] = [];
  const marks: { at: number; label: string }[] = [];
  const writer = appWriter(before.endpoints.mysqlPrimary, options.secrets, (s) => writeSamples.push(s));
  await writer.prepare();
  const readers = before.endpoints.http
    ? new PageReaders(new URL(before.endpoints.http), (s) => readSamples.push(s))
    : null;
  const postSamples: Sample[] = [];
  const runId = `${now().toString(36)}-${run}`;
  let author =
    before.endpoints.http && options.wordpressAdmin
      ? new RestWriter(
          new URL(before.endpoints.http),
          options.wordpressAdmin.user,
          options.wordpressAdmin.password,
          runId,
          (s) => postSamples.push(s),
        )
      : null;
  try {
    await author?.signIn();
  } catch (error) {
    // The site may have a changed admin password: the run goes on without posts, and says so.
    options.log(`${scenario.name} #${run}: no REST writes this run: ${errorMessage(error)}`);
    author = null;
  }
  let latest = before;
  const monitor = new WritableMonitor(
    () => options.faults.writableProbes(latest).instances,
    { user: options.secrets.adminUser, password: options.secrets.adminPassword },
    50,
    options.faults.writableProbes(before).localAddress,
  );
  const start = now();
  writer.start();
  author?.start();
  readers?.start(options.readers ?? 4);
  monitor.start();
  const problems: string[] = [];
  let healedAt: number | null = null;
  let faultAt = start;
  try {
    await options.sleep(1_000);
    faultAt = now();
    const context: ScenarioContext = {
      faults: options.faults,
      run,
      waitFor: async (what, check, timeoutMs = healTimeoutMs) => {
        latest = await waitFor(options, what, check, timeoutMs);
        return latest;
      },
      waitForEvent: async (kind, timeoutMs = 60_000) => {
        const wanted = typeof kind === "string" ? [kind] : kind;
        const deadline = now() + timeoutMs;
        while (now() < deadline) {
          const kinds = (await options.faults.events(start)).map((e) => e.kind);
          if (kinds.some((k) => wanted.includes(k))) return kinds;
          await options.sleep(options.faults.eventPollMs);
        }
        throw new HapressError(
          `timed out after ${Math.round(timeoutMs / 1000)} s waiting for a '${wanted.join("' or '")}' event`,
        );
      },
      mark: (label) => {
        marks.push({ at: now(), label });
        options.log(`${scenario.name} #${run}: ${label}`);
      },
      log: options.log,
      sleep: options.sleep,
      saturationMs: options.saturationMs ?? 60_000,
    };
    await scenario.run(context);
    latest = await waitFor(options, "the topology whole again", isWhole, healTimeoutMs);
    healedAt = now();
    marks.push({ at: healedAt, label: "whole again" });
    await options.sleep(1_000);
  } catch (error) {
    problems.push(`the scenario did not complete: ${errorMessage(error)}`);
  }
  const writes = await writer.stop();
  const posts = (await author?.stop()) ?? { acknowledged: [], unacknowledged: [] };
  await readers?.stop();
  await monitor.stop();
  const end = now();
  const after = await options.faults.status().catch(() => latest);
  const primary = databasePods(after).find((p) => p.name === after.primary);
  let lost = 0;
  let unacknowledgedPresent = 0;
  let postsLost = 0;
  let postsUnacknowledgedPresent = 0;
  if (primary) {
    const present = await writer.presentOn({
      host: primary.address.split(":")[0] ?? "",
      port: primary.port ?? 3306,
    });
    lost = writes.acknowledged.filter((id) => !present.has(id)).length;
    unacknowledgedPresent = writes.unacknowledged.filter((id) => present.has(id)).length;
    // Only where posts were written: a site without WordPress has no posts table.
    const titles =
      posts.acknowledged.length + posts.unacknowledged.length === 0
        ? new Set<string>()
        : await postTitlesOn(
            { host: primary.address.split(":")[0] ?? "", port: primary.port ?? 3306 },
            options.secrets,
            runId,
          );
    postsLost = posts.acknowledged.filter((t) => !titles.has(t)).length;
    postsUnacknowledgedPresent = posts.unacknowledged.filter((t) => titles.has(t)).length;
  } else problems.push("no primary afterwards to check the writes on");
  const failovers = (after.primaryEpoch ?? 0) - (before.primaryEpoch ?? 0);
  if (lost > 0) problems.push(`${lost} acknowledged write(s) lost`);
  if (postsLost > 0) problems.push(`${postsLost} acknowledged post(s) lost`);
  if (monitor.most > 1) problems.push(`${monitor.most} instances accepted writes at once`);
  if (scenario.failover === "forbidden" && failovers > 0)
    problems.push(`${failovers} failover(s) where none is allowed`);
  if (scenario.failover === "required" && failovers === 0)
    problems.push("no failover where one was required");
  return {
    ...empty,
    reads: summarizeChannel(readSamples, start, end),
    writes: summarizeChannel(writeSamples, start, end),
    posts: summarizeChannel(postSamples, start, end),
    acknowledged: writes.acknowledged.length,
    lost,
    unacknowledgedPresent,
    postsAcknowledged: posts.acknowledged.length,
    postsLost,
    postsUnacknowledgedPresent,
    mostWriters: monitor.most,
    failovers,
    primaryAfter: after.primary,
    healedSeconds: healedAt === null ? null : (healedAt - faultAt) / 1000,
    problems,
    marks,
    events: await options.faults.events(start).catch(() => []),
    timeline: {
      start,
      end,
      widthMs: 100,
      reads: bucketize(readSamples, start, end),
      writes: bucketize(writeSamples, start, end),
      posts: bucketize(postSamples, start, end),
    },
  };
}

// The local target run by an ordinary user, as people run it on their own machine: a copy of this
// project owned by that user, installed with scripts/install.sh and tested through a login shell (so
// the PATH is the one a real user has, without /usr/sbin), with the database tier, failover and
// WordPress suites. Runs only as root, which can create that user; run as anyone else, the whole
// suite already is that case.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { describeProcesses, processUid, repoRoot } from "./helpers/site.js";

const USER = "hapress-tester";
const isRoot = process.getuid?.() === 0;
/** The suites run again as the user: clones, failover under writes, WordPress, its supervisor's death, no leftovers. */
const SUITES = [
  "test/dbtier.test.ts",
  "test/failover.test.ts",
  "test/supervisor.test.ts",
  "test/wordpress.test.ts",
  "test/zz-no-orphans.test.ts",
];

function run(command: string, args: string[], timeoutMs = 120_000): { code: number | null; output: string } {
  const result = spawnSync(command, args, {
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

/** A command in the user's login shell: their PATH, their home, nothing of root's environment. */
function asUser(script: string, timeoutMs: number): { code: number | null; output: string } {
  return run("su", ["--login", USER, "--command", script], timeoutMs);
}

/**
 * Each failed test's report in a TAP stream (its "not ok" line and the indented details after it),
 * innermost first as TAP prints them, at most 4,000 characters each.
 */
function failedReports(tap: string): string {
  const lines = tap.split("\n");
  const reports: string[] = [];
  lines.forEach((line, index) => {
    const failed = /^(\s*)not ok \d+/.exec(line);
    if (!failed) return;
    const indent = (failed[1] ?? "").length;
    const details = [line];
    for (const next of lines.slice(index + 1)) {
      if (next.trim() !== "" && next.length - next.trimStart().length <= indent) break;
      details.push(next);
    }
    reports.push(details.join("\n").slice(0, 4000));
  });
  return reports.length > 0 ? reports.join("\n") : "(no failed test reported: see the end of the output)";
}

/** The user's live processes. A zombie (state Z) has ended already: its parent, or init, reaps it. */
function userPids(uid: number): number[] {
  return readdirSync("/proc")
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && processUid(pid) === uid && !isZombie(pid));
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true; // gone meanwhile
  }
}

describe("an ordinary user runs hapress", { skip: !isRoot && "needs root to create the user" }, () => {
  let home = "";
  let uid = -1;

  before(() => {
    if (run("id", ["-u", USER]).code !== 0) {
      const created = run("useradd", ["--create-home", "--shell", "/bin/bash", USER]);
      assert.equal(created.code, 0, created.output);
    }
    uid = Number(run("id", ["-u", USER]).output.trim());
    home =
      readFileSync("/etc/passwd", "utf8")
        .split("\n")
        .find((line) => line.startsWith(`${USER}:`))
        ?.split(":")[5] ?? "";
    assert.ok(home.startsWith("/home/"), `home of ${USER}: ${home}`);
    rmSync(join(home, "hapress"), { recursive: true, force: true });
    // The project's files as git sees them (committed or not, never ignored ones), and the npm
    // dependencies already installed here (the registry is not needed a second time), owned by the user.
    const copied = run("bash", [
      "-c",
      `set -euo pipefail; mkdir "$2"; cd "$1"; git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$2"; cp -a node_modules "$2/"; chown -R ${USER}: "$2"`,
      "copy",
      repoRoot,
      join(home, "hapress"),
    ]);
    assert.equal(copied.code, 0, copied.output);
  });

  after(() => {
    // Anything of the user's still running is a leak the assertions below report; stop it anyway.
    for (const pid of userPids(uid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    if (home) rmSync(join(home, "hapress"), { recursive: true, force: true });
  });

  it("installs with scripts/install.sh (nothing to install as root: it builds)", () => {
    const path = asUser("echo $PATH", 10_000).output.trim();
    assert.doesNotMatch(path, /sbin/, "a login PATH of an ordinary user has no sbin folder");
    const install = asUser("cd ~/hapress && bash scripts/install.sh", 300_000);
    assert.equal(install.code, 0, install.output);
  });

  it("passes the database tier, failover (kill -9 under writes, no acknowledged write lost) and WordPress suites as that user", () => {
    const suites = asUser(
      `cd ~/hapress && node --import tsx --test --test-concurrency=1 ${SUITES.join(" ")}`,
      1_500_000,
    );
    const summary = suites.output
      .split("\n")
      .filter((line) => /^# (tests|pass|fail|skipped|cancelled) /.test(line));
    // The failed tests' own reports first: CI prints only the start of a long message.
    assert.equal(suites.code, 0, `${failedReports(suites.output)}\n...\n${suites.output.slice(-10_000)}`);
    assert.ok(summary.includes("# fail 0") && summary.includes("# skipped 0"), summary.join("\n"));
    assert.ok(!summary.includes("# pass 0"), "the suites ran tests");
    assert.deepEqual(describeProcesses(userPids(uid)), [], "the user's runs left processes behind");
  });
});

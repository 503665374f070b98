import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readSavedRuns } from "./saved-runs.js";

describe("readSavedRuns", () => {
  const dir = mkdtempSync(join(tmpdir(), "hapress-saved-runs-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const channel = { availability: 100, longestOutageMs: 0 };
  const aRun = {
    scenario: "primary-kill",
    run: 1,
    skipped: null,
    reads: channel,
    writes: channel,
    posts: channel,
    marks: [],
    events: [],
    timeline: { start: 0, end: 1 },
    problems: [],
    lost: 0,
  };

  it("reads what `hapress chaos --json` printed, keeping every field of a run", async () => {
    const set = await readSavedRuns(
      write("local.json", JSON.stringify({ target: "local", site: "blog", runs: [aRun], summary: [] })),
    );
    assert.equal(set.target, "local");
    assert.equal(set.site, "blog");
    assert.equal(set.runs[0]?.lost, 0);
  });

  it("names the file and the field when a file is not chaos runs, with an example of right", async () => {
    const noTarget = write("old.json", JSON.stringify({ site: "blog", runs: [aRun] }));
    await assert.rejects(readSavedRuns(noTarget), (error: Error) => {
      assert.match(error.message, /old\.json: field 'target'/);
      assert.match(error.message, /hapress chaos --runs 5 --json > local\.json/);
      return true;
    });
    const badRun = write(
      "bad.json",
      JSON.stringify({ target: "local", site: "b", runs: [{ ...aRun, marks: 3 }] }),
    );
    await assert.rejects(readSavedRuns(badRun), /bad\.json: field 'runs\.0\.marks'/);
    await assert.rejects(readSavedRuns(write("text.json", "not json")), /text\.json: not a JSON file/);
    await assert.rejects(
      readSavedRuns(join(dir, "missing.json")),
      /missing\.json: cannot read it \(ENOENT\)/,
    );
  });
});

import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { makeSiteDir as makeDir, runCli } from "./helpers/site.js";

const made: string[] = [];
function makeSiteDir(label: string): string {
  const dir = makeDir(label);
  made.push(dir);
  return dir;
}
after(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const badSpecs: [string, string, RegExp][] = [
  ["wrong type", "database:\n  replicas: three\n", /database\.replicas.*Expected number/],
  ["unknown key", "databse:\n  replicas: 3\n", /unknown field 'databse'/],
  ["zero database replicas", "database:\n  replicas: 0\n", /database\.replicas.*at least 1/],
  ["broken YAML", "database: [\n", /not valid YAML/],
];

describe("bad input exits 2 and starts nothing", () => {
  for (const [label, content, message] of badSpecs) {
    it(`rejects a spec with ${label}`, async () => {
      const dir = makeSiteDir("spec");
      writeFileSync(join(dir, "hapress.yaml"), content);
      const result = await runCli(["--dir", join(dir, "state"), "up"], { cwd: dir });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /hapress\.yaml/);
      assert.match(result.stderr, message);
      assert.equal(existsSync(join(dir, "state")), false, "no state folder was created");
    });
  }

  it("rejects a named spec file that does not exist", async () => {
    const dir = makeSiteDir("spec");
    const result = await runCli(["-f", "nope.yaml", "--dir", join(dir, "state"), "up"], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /nope\.yaml: cannot read the spec file/);
  });

  it("rejects bad arguments with exit 2", async () => {
    const dir = makeSiteDir("spec");
    const scale = await runCli(["--dir", join(dir, "state"), "scale", "mysql", "0"], { cwd: dir });
    assert.equal(scale.code, 2);
    assert.match(scale.stderr, /whole number from 1 to 9/);
    const unknown = await runCli(["frobnicate"], { cwd: dir });
    assert.equal(unknown.code, 2);
  });

  it("reports a missing site with exit 1", async () => {
    const dir = makeSiteDir("spec");
    const result = await runCli(["--dir", join(dir, "state"), "status"], { cwd: dir });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no site in .*run 'hapress up' first/);
  });

  it("refuses a taken HTTP port with exit 2, naming the field, and creates nothing", async () => {
    const dir = makeSiteDir("spec");
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      writeFileSync(join(dir, "hapress.yaml"), `local:\n  httpPort: ${port}\n`);
      const result = await runCli(["--dir", join(dir, "state"), "up"], { cwd: dir });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`local\\.httpPort.*127\\.0\\.0\\.1:${port} is already in use`));
      assert.equal(existsSync(join(dir, "state")), false);
    } finally {
      blocker.close();
    }
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InputError } from "../errors.js";
import { specSchema } from "../spec/schema.js";
import { readJsonFile } from "./files.js";
import { loadOrCreateSecrets, loadSecrets } from "./secrets.js";

const dir = mkdtempSync(join(tmpdir(), "hp-state-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

describe("state files are input", () => {
  it("refuses a spec.json with an absurd size before anything uses it, naming the file", async () => {
    const path = file("spec.json", JSON.stringify({ database: { replicas: 1e8 } }));
    await assert.rejects(readJsonFile(path, specSchema), (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /spec\.json: field 'database\.replicas': .*at most 9/);
      return true;
    });
  });

  it("refuses a file that is not JSON, naming it", async () => {
    const path = file("primary.json", "{ not json");
    await assert.rejects(readJsonFile(path, specSchema), /primary\.json: not valid JSON/);
  });

  it("generates and keeps secrets in the generated character sets, and refuses others", async () => {
    const path = join(dir, "secrets.json");
    const created = await loadOrCreateSecrets(path);
    assert.deepEqual(await loadSecrets(path), created, "a generated file reads back as it is");
    const broken = file("broken-secrets.json", JSON.stringify({ ...created, adminPassword: "pw'\nx" }));
    await assert.rejects(
      loadSecrets(broken),
      /broken-secrets\.json: field 'adminPassword': must be 16-128 characters/,
    );
    const badUser = file("bad-user.json", JSON.stringify({ ...created, appUser: "wp'@'%" }));
    await assert.rejects(loadSecrets(badUser), /bad-user\.json: field 'appUser': must be a plain user name/);
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { InputError } from "../errors.js";
import { secretInput } from "./secret-input.js";

const dir = mkdtempSync(join(tmpdir(), "hp-secret-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("secretInput reads <NAME>_FILE first, then <NAME>; a named file that is missing is an input error", () => {
  const file = join(dir, "token");
  writeFileSync(file, "fromFile0123456789abcdef\n");
  assert.equal(secretInput("TOKEN", { TOKEN_FILE: file, TOKEN: "fromEnv" }), "fromFile0123456789abcdef");
  assert.equal(secretInput("TOKEN", { TOKEN: "fromEnv" }), "fromEnv");
  assert.equal(secretInput("TOKEN", {}), undefined);
  assert.throws(
    () => secretInput("TOKEN", { TOKEN_FILE: join(dir, "missing") }),
    (e: unknown) =>
      e instanceof InputError && /TOKEN_FILE=.*missing: cannot read the secret file/.test(e.message),
  );
});

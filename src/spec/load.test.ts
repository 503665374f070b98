import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InputError } from "../errors.js";
import { parseSpecText } from "./load.js";

function errorOf(text: string): InputError {
  try {
    parseSpecText(text, "site.yaml");
  } catch (error) {
    assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    return error;
  }
  assert.fail("expected the spec to be rejected");
}

describe("spec", () => {
  it("gives every default for an empty file", () => {
    const spec = parseSpecText("", "site.yaml");
    assert.equal(spec.name, "hapress");
    assert.equal(spec.database.replicas, 3);
    assert.equal(spec.wordpress.replicas, 3);
    assert.equal(spec.local.httpPort, 8080);
    assert.equal(spec.site.adminUser, "admin");
  });

  it("keeps given values", () => {
    const spec = parseSpecText(
      "name: blog\ndatabase:\n  replicas: 5\nwordpress:\n  replicas: 0\n",
      "site.yaml",
    );
    assert.equal(spec.name, "blog");
    assert.equal(spec.database.replicas, 5);
    assert.equal(spec.wordpress.replicas, 0);
  });

  it("names the field, the file and an example for a wrong type", () => {
    const error = errorOf("database:\n  replicas: three\n");
    assert.match(error.message, /site\.yaml/);
    assert.match(error.message, /database\.replicas/);
    assert.match(error.message, /Expected number/);
    assert.match(error.message, /example of right:[\s\S]*replicas: 3/);
  });

  it("rejects zero database replicas", () => {
    const error = errorOf("database:\n  replicas: 0\n");
    assert.match(error.message, /field 'database\.replicas': must be at least 1/);
  });

  it("rejects unknown keys and lists the known ones", () => {
    const error = errorOf("databse:\n  replicas: 3\n");
    assert.match(error.message, /unknown field 'databse' at the top level/);
    assert.match(error.message, /known fields: .*database/);
    const nested = errorOf("database:\n  replica: 3\n");
    assert.match(nested.message, /unknown field 'replica' in 'database'/);
  });

  it("rejects broken YAML", () => {
    const error = errorOf("database:\n  replicas: [1, 2\n");
    assert.match(error.message, /site\.yaml: not valid YAML/);
  });

  it("rejects a document that is not a mapping", () => {
    const error = errorOf("- a\n- b\n");
    assert.match(error.message, /must be a mapping/);
  });

  it("rejects a bad site name and a bad email", () => {
    assert.match(errorOf("name: My Site\n").message, /field 'name'/);
    assert.match(errorOf("site:\n  adminEmail: nope\n").message, /site\.adminEmail/);
  });
});

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

  it("refuses a YAML alias bomb as an input error naming the file", () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let level = 1; level < 9; level++) {
      const previous = String.fromCharCode(96 + level);
      const next = String.fromCharCode(97 + level);
      lines.push(`${next}: &${next} [${Array(10).fill(`*${previous}`).join(",")}]`);
    }
    const error = errorOf(lines.join("\n"));
    assert.match(error.message, /^site\.yaml: not a usable spec: .*alias/s);
  });

  it("serves only loopback unless local.exposed says otherwise; names are not addresses", () => {
    assert.match(
      errorOf("local:\n  httpAddress: 0.0.0.0\n").message,
      /local\.httpAddress.*not a loopback address.*local\.exposed: true/s,
    );
    assert.match(
      errorOf("local:\n  httpAddress: 127.evil.invalid\n").message,
      /local\.httpAddress.*IPv4 address/s,
    );
    const exposed = parseSpecText("local:\n  httpAddress: 0.0.0.0\n  exposed: true\n", "site.yaml");
    assert.equal(exposed.local.httpAddress, "0.0.0.0");
    assert.equal(parseSpecText("local:\n  httpAddress: 127.3.4.5\n", "site.yaml").local.exposed, false);
  });

  it("refuses control characters in the title and never echoes them raw", () => {
    assert.match(errorOf('site:\n  title: "My\\nBlog"\n').message, /site\.title.*control characters/s);
    const message = errorOf('"evil\\u001b[31m": 1\n').message;
    assert.ok(!message.includes("\u001b"), "no raw escape character in the message");
    assert.match(message, /unknown field 'evil\\u001b\[31m'/);
  });
});

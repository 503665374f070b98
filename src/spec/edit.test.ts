import assert from "node:assert/strict";
import { test } from "node:test";
import { InputError } from "../errors.js";
import { setSpecField } from "./edit.js";
import { parseSpecText } from "./load.js";

test("setSpecField changes one field and keeps comments and the other fields", () => {
  const text =
    "# my blog\nname: blog # the site\ndatabase:\n  replicas: 3 # three copies\n  maxConnections: 200\n";
  const edited = setSpecField(text, ["database", "replicas"], 5, "hapress.yaml");
  assert.match(edited, /# my blog/);
  assert.match(edited, /name: blog # the site/);
  assert.match(edited, /replicas: 5/);
  assert.match(edited, /maxConnections: 200/);
  const spec = parseSpecText(edited, "hapress.yaml");
  assert.equal(spec.database.replicas, 5);
  assert.equal(spec.database.maxConnections, 200);
});

test("setSpecField fills an empty file with just the field", () => {
  const edited = setSpecField("", ["wordpress", "replicas"], 4, "hapress.yaml");
  assert.equal(parseSpecText(edited, "hapress.yaml").wordpress.replicas, 4);
});

test("setSpecField refuses a result the spec schema refuses, naming the file and field", () => {
  assert.throws(
    () => setSpecField("name: blog\n", ["database", "replicas"], 0, "site.yaml"),
    (error: unknown) =>
      error instanceof InputError && /site\.yaml: field 'database\.replicas'/.test(error.message),
  );
});

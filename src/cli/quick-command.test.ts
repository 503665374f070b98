import assert from "node:assert/strict";
import { test } from "node:test";
import { quickCommandOf } from "./quick-command.js";

test("switchover is run by the quick entry, after any global options", () => {
  assert.equal(quickCommandOf(["switchover"]), "switchover");
  assert.equal(quickCommandOf(["switchover", "--to", "mysql-1"]), "switchover");
  assert.equal(quickCommandOf(["--dir", "/srv/site", "switchover"]), "switchover");
  assert.equal(quickCommandOf(["--dir=/srv/site", "--debug", "-f", "x.yaml", "switchover"]), "switchover");
  assert.equal(quickCommandOf(["-fx.yaml", "--file=y.yaml", "switchover", "--help"]), "switchover");
});

test("everything else goes to the full program", () => {
  assert.equal(quickCommandOf([]), null);
  assert.equal(quickCommandOf(["up"]), null);
  assert.equal(quickCommandOf(["--help"]), null);
  assert.equal(quickCommandOf(["-V", "switchover"]), null);
  assert.equal(quickCommandOf(["--unknown", "switchover"]), null);
  // The value of --dir is not the command, even when it reads like one.
  assert.equal(quickCommandOf(["--dir", "switchover", "status"]), null);
  assert.equal(quickCommandOf(["status", "switchover"]), null);
});

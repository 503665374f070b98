import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readFenced, setFenced } from "../../state/fenced.js";
import { FenceBook } from "./fence-book.js";

const dir = mkdtempSync(join(tmpdir(), "hp-fences-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a fence holds in memory at once and on disk once written", async () => {
  const file = join(dir, "a.json");
  const book = new FenceBook(file);
  const written = book.change("mysql-0", true);
  assert.equal(book.has("mysql-0"), true, "before the write ends");
  await written;
  assert.deepEqual([...(await readFenced(file))], ["mysql-0"]);
  await book.change("mysql-0", false);
  assert.equal(book.has("mysql-0"), false);
  assert.deepEqual([...(await readFenced(file))], []);
});

test("a refresh takes in a fence written by another (the controller while no supervisor ran)", async () => {
  const file = join(dir, "b.json");
  const book = new FenceBook(file);
  await setFenced(file, "mysql-2", true);
  await book.refresh();
  assert.equal(book.has("mysql-2"), true);
});

test("a refresh that overlaps a change of our own never undoes it", async () => {
  const file = join(dir, "c.json");
  const book = new FenceBook(file);
  // The refresh reads the file (empty) while the fence is being made: its result is dropped.
  const refreshed = book.refresh();
  const fenced = book.change("mysql-1", true);
  await Promise.all([refreshed, fenced]);
  assert.equal(book.has("mysql-1"), true);
  await book.refresh();
  assert.equal(book.has("mysql-1"), true, "and the next refresh reads it back from the file");
});

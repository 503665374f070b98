import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The modules a module loads when it runs (static imports and re-exports, `import type` left out, as
 * TypeScript erases it), each with the chain that brings it in; packages by name.
 */
function loadedBy(entry: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const visit = (file: string, chain: string[]) => {
    if (found.has(file)) return;
    found.set(file, chain);
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+"([^"]+)"/gms)) {
      const spec = match[1] ?? "";
      const next = [...chain, relative(SRC, file)];
      if (!spec.startsWith(".")) {
        if (!found.has(spec)) found.set(spec, next);
        continue;
      }
      const path = join(dirname(file), spec).replace(/\.js$/, ".ts");
      if (existsSync(path)) visit(path, next);
    }
  };
  visit(join(SRC, entry), []);
  return found;
}

test("the database pods' agent and init step never load the Kubernetes API client", () => {
  // Found on the real node: the init step's reading of the controller's published view pulled in
  // @kubernetes/client-node, and the agent (same command module, a 96Mi container) was OOMKilled
  // while it served a clone.
  const loaded = loadedBy("cli/agent-commands.ts");
  assert.ok(loaded.size > 10, "the walk found the agent's modules");
  const client = loaded.get("@kubernetes/client-node");
  assert.equal(client, undefined, `loaded through ${client?.join(" -> ")}`);
});

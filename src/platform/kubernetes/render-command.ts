import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HapressError, InputError } from "../../errors.js";
import type { Spec } from "../../spec/schema.js";
import { checkKubernetesSpec } from "./check.js";
import { renderManifests } from "./render.js";
import { loadOrCreateClusterSecrets } from "./secrets.js";
import { fileNameFor, toYaml, toYamlStream } from "./serialize.js";
import { validateManifests } from "./validate.js";

export interface RenderOptions {
  spec: Spec;
  specSource: string;
  secretsFile: string;
  outputDir: string | null;
  report: (line: string) => void;
}

/**
 * `hapress render`: checks the spec for Kubernetes, renders every object, validates the set against
 * the official schema and our invariants, then writes one file per object or one stream to stdout.
 */
export async function renderCommand(options: RenderOptions): Promise<string | null> {
  const check = checkKubernetesSpec(options.spec, options.specSource);
  for (const warning of check.warnings) options.report(`warning: ${warning}`);
  if (check.errors.length > 0) throw new InputError(check.errors.join("\n"));
  const { secrets, created } = await loadOrCreateClusterSecrets(options.secretsFile);
  if (created.length > 0)
    options.report(
      `generated ${created.length} secret value(s) into ${options.secretsFile} (mode 0600): keep it, rendering again reuses it`,
    );
  const objects = renderManifests(options.spec, secrets);
  const problems = validateManifests(objects);
  if (problems.length > 0)
    throw new HapressError(
      `the rendered manifests are not valid (a bug in hapress):\n${problems.join("\n")}`,
    );
  if (options.outputDir === null) return toYamlStream(objects);
  await mkdir(options.outputDir, { recursive: true, mode: 0o700 });
  // Files of an earlier render that no longer exist would otherwise be applied again.
  for (const entry of await readdir(options.outputDir)) {
    if (/^\d{2}-[a-z]+-[a-z0-9.-]+\.yaml$/.test(entry)) await rm(join(options.outputDir, entry));
  }
  await Promise.all(
    objects.map((object, index) =>
      writeFile(join(options.outputDir ?? "", fileNameFor(object, index)), toYaml(object), {
        // The Secret holds passwords: only its owner may read it.
        mode: object.kind === "Secret" ? 0o600 : 0o644,
      }),
    ),
  );
  options.report(
    `wrote ${objects.length} objects to ${options.outputDir}; apply with: kubectl apply -f ${options.outputDir}`,
  );
  return null;
}

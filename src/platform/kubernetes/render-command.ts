import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { readJsonFile, writeFileAtomic, writeJsonFile } from "../../state/files.js";
import { HapressError, InputError } from "../../errors.js";
import type { Spec } from "../../spec/schema.js";
import { checkKubernetesSpec } from "./check.js";
import { externalClaims } from "./render/backup.js";
import { renderManifests, type K8sObject } from "./render.js";
import { loadOrCreateClusterSecrets } from "./secrets.js";
import { fileNameFor, toYaml, toYamlStream } from "./serialize.js";
import { validateManifests } from "./validate.js";

/** What a render wrote into its output folder, so the next render removes only those files. */
// Not .json: `kubectl apply -f DIR` reads every .json, .yaml and .yml file of the folder.
const MANIFEST_LIST = ".hapress-render.list";
const manifestListSchema = z.object({
  site: z.string(),
  files: z
    .array(z.string().regex(/^\d{2}-[a-z]+-[a-z0-9.-]+\.yaml$/, "must be a manifest file name"))
    .max(1000),
});

export interface RenderOptions {
  spec: Spec;
  specSource: string;
  secretsFile: string;
  outputDir: string | null;
  report: (line: string) => void;
}

/**
 * The site's objects, ready to apply: the spec checked for Kubernetes, secrets loaded (missing ones
 * generated into the 0600 secrets file), every object rendered and validated against the official
 * schema and our invariants. Shared by `render` and `apply`.
 */
export async function prepareManifests(
  options: Pick<RenderOptions, "spec" | "specSource" | "secretsFile" | "report">,
): Promise<K8sObject[]> {
  const check = checkKubernetesSpec(options.spec, options.specSource);
  for (const warning of check.warnings) options.report(`warning: ${warning}`);
  if (check.errors.length > 0) throw new InputError(check.errors.join("\n"));
  const { secrets, created } = await loadOrCreateClusterSecrets(options.secretsFile);
  if (created.length > 0)
    options.report(
      `generated ${created.length} secret value(s) into ${options.secretsFile} (mode 0600): keep it, rendering again reuses it`,
    );
  const objects = renderManifests(options.spec, secrets);
  const problems = validateManifests(objects, externalClaims(options.spec));
  if (problems.length > 0)
    throw new HapressError(
      `the rendered manifests are not valid (a bug in hapress):\n${problems.join("\n")}`,
    );
  return objects;
}

/**
 * `hapress render`: checks the spec for Kubernetes, renders every object, validates the set against
 * the official schema and our invariants, then writes one file per object or one stream to stdout.
 */
export async function renderCommand(options: RenderOptions): Promise<string | null> {
  const objects = await prepareManifests(options);
  if (options.outputDir === null) return toYamlStream(objects);
  const outputDir = options.outputDir;
  await mkdir(outputDir, { recursive: true, mode: 0o700 });
  const manifestList = join(outputDir, MANIFEST_LIST);
  const site = `${options.spec.name}/${options.spec.kubernetes.namespace}`;
  const previous = await readJsonFile(manifestList, manifestListSchema);
  if (previous && previous.site !== site) {
    throw new InputError(
      `${outputDir} holds the manifests of site ${previous.site}, not ${site}: render into a folder of its own, e.g. -o manifests-${options.spec.name}`,
    );
  }
  const files = objects.map((object, index) => fileNameFor(object, index));
  // Files of an earlier render of this site that no longer exist would otherwise be applied again;
  // only what that render wrote (its list) is removed, never anyone else's file.
  for (const old of previous?.files ?? []) {
    if (!files.includes(old)) await rm(join(outputDir, old), { force: true });
  }
  await Promise.all(
    objects.map((object, index) =>
      writeFileAtomic(
        join(outputDir, files[index] ?? ""),
        toYaml(object),
        // The Secret holds passwords: only its owner may read it.
        object.kind === "Secret" ? 0o600 : 0o644,
      ),
    ),
  );
  await writeJsonFile(manifestList, { site, files });
  options.report(
    `wrote ${objects.length} objects to ${options.outputDir}; apply with: kubectl apply -f ${options.outputDir}`,
  );
  return null;
}

import type { Command } from "commander";
import { dirname, join, resolve } from "node:path";
import { loadSpec } from "../spec/load.js";
import { report, type GlobalOptions } from "./options.js";

/** `render`: the Kubernetes manifests of the spec, validated, on stdout or one file per object. */
export function addRenderCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command("render")
    .description("render the Kubernetes manifests of the site (validated against the official schema)")
    .option(
      "-o, --output <dir>",
      "write one file per object into this folder (default: one stream on stdout)",
    )
    .option(
      "--secrets <file>",
      "secrets file, read back and completed, never rotated (default: hapress-secrets.json beside the spec)",
    )
    .action(async (options: { output?: string; secrets?: string }) => {
      const g = globals();
      const file = g.file ?? "hapress.yaml";
      const spec = await loadSpec(file, { explicit: g.file !== undefined });
      const { renderCommand } = await import("../platform/kubernetes/render-command.js");
      const stream = await renderCommand({
        spec,
        specSource: file,
        secretsFile: options.secrets ?? join(dirname(resolve(file)), "hapress-secrets.json"),
        outputDir: options.output ?? null,
        report,
      });
      if (stream !== null) process.stdout.write(stream);
    });
}

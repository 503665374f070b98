import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import type { ZodIssue } from "zod";
import { InputError } from "../errors.js";
import { specExamples, specSchema, type Spec } from "./schema.js";

/** Validates an already parsed document; `source` names the file in error messages. */
export function parseSpec(document: unknown, source: string): Spec {
  const result = specSchema.safeParse(document ?? {});
  if (result.success) return result.data;
  throw new InputError(result.error.issues.map((issue) => describeIssue(issue, source)).join("\n"));
}

/** A user-supplied text made safe to print: control characters (terminal escapes, line breaks) escaped. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function describeIssue(issue: ZodIssue, source: string): string {
  const path = printable(issue.path.join("."));
  if (issue.code === "unrecognized_keys") {
    const where = path === "" ? "at the top level" : `in '${path}'`;
    const known = knownKeysUnder(path);
    return `${source}: unknown field ${issue.keys.map((k) => `'${printable(k)}'`).join(", ")} ${where}; known fields: ${known}`;
  }
  const example = specExamples[path];
  const field = path === "" ? "the document" : `field '${path}'`;
  return `${source}: ${field}: ${printable(issue.message)}${example ? `\n  example of right:\n    ${example.replace(/\n/g, "\n    ")}` : ""}`;
}

function knownKeysUnder(path: string): string {
  const prefix = path === "" ? "" : `${path}.`;
  const keys = new Set<string>();
  for (const key of Object.keys(specExamples)) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length).split(".")[0];
    if (rest) keys.add(rest);
  }
  return [...keys].join(", ");
}

/** Parses YAML text into a spec, with errors naming the file, the line and the field. */
export function parseSpecText(text: string, source: string): Spec {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const first = document.errors[0];
    throw new InputError(`${source}: not valid YAML: ${first?.message ?? "parse error"}`);
  }
  let value: unknown;
  try {
    // A few aliases are normal YAML; thousands are an expansion bomb that would exhaust memory.
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new InputError(
      `${source}: not a usable spec: ${error instanceof Error ? error.message : String(error)}; write the values out instead of expanding aliases`,
      { cause: error },
    );
  }
  if (value !== null && value !== undefined && (typeof value !== "object" || Array.isArray(value))) {
    throw new InputError(
      `${source}: the document must be a mapping of fields, for example:\n    name: myblog`,
    );
  }
  return parseSpec(value, source);
}

/**
 * Loads the spec file. A missing file is all defaults only when the user did not name one:
 * a named file that does not exist is an error, because silently ignoring it would surprise.
 */
export async function loadSpec(file: string, options: { explicit: boolean }): Promise<Spec> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && !options.explicit) return parseSpec({}, file);
    throw new InputError(`${file}: cannot read the spec file`, { cause: error });
  }
  return parseSpecText(text, file);
}

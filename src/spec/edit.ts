import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import { InputError } from "../errors.js";
import { writeFileAtomic } from "../state/files.js";
import { parseSpecText } from "./load.js";
import type { Spec } from "./schema.js";

/**
 * The spec text with one field set, comments and layout kept (pure). The result is validated as a
 * whole spec before anyone writes it, so an edit can never leave a file the next command refuses.
 */
export function setSpecField(text: string, path: string[], value: number | string, source: string): string {
  const document = parseDocument(text, { uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new InputError(`${source}: not valid YAML: ${document.errors[0]?.message ?? "parse error"}`);
  }
  document.setIn(path, value);
  const edited = document.toString();
  parseSpecText(edited, source);
  return edited;
}

/**
 * Writes one field into the spec file (created when absent: all defaults but this one), so the file
 * stays the one truth: the next `apply` from it keeps what `scale` did. Returns the spec as written.
 */
export async function writeSpecField(file: string, path: string[], value: number | string): Promise<Spec> {
  let text = "";
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      throw new InputError(`${file}: cannot read the spec file`, { cause: error });
  }
  const edited = setSpecField(text, path, value, file);
  await writeFileAtomic(file, edited, 0o644);
  return parseSpecText(edited, file);
}

import { readFileSync } from "node:fs";
import { InputError } from "../errors.js";

/**
 * A secret handed to this process: from the file named by `<NAME>_FILE` (how the Kubernetes manifests
 * pass them: a mounted Secret, never the environment), else from `<NAME>` itself (the local supervisor
 * passes its children their secrets in their environment, which only the same user can read).
 * undefined when neither is set; a named file that cannot be read is an input error naming it.
 */
/** Like secretInput, for a secret the command cannot run without: missing is an input error. */
export function requiredSecret(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = secretInput(name, env);
  if (!value) throw new InputError(`neither ${name} nor ${name}_FILE is set`);
  return value;
}

export function secretInput(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) {
    try {
      // A trailing line break is an editor's, never part of a generated secret.
      return readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (error) {
      throw new InputError(`${name}_FILE=${file}: cannot read the secret file`, { cause: error });
    }
  }
  return env[name] || undefined;
}

import { InvalidArgumentError } from "commander";

/** The options every command shares. */
export interface GlobalOptions {
  file?: string;
  dir: string;
  debug?: boolean;
}

export function parseCount(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(
        `must be a whole number from ${min} to ${max}, for example ${Math.max(min, 3)}`,
      );
    }
    return Number(value);
  };
}

export function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError("must be a whole number of seconds, e.g. 600");
  return Number(value);
}

/** Progress and notices go to stderr: stdout is for a command's result (a manifest stream, JSON). */
export const report = (line: string) => process.stderr.write(`${line}\n`);

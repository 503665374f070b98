/** Exit codes: 0 ok, 1 failure, 2 bad usage or bad input. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error a user can act on: one clear line, the chain of causes shown with --debug. */
export class HapressError extends Error {
  readonly exitCode: number;
  constructor(message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HapressError";
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
  }
}

/** Bad input from the user (spec file, arguments): exits 2 and starts nothing. */
export class InputError extends HapressError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, exitCode: EXIT_USAGE });
    this.name = "InputError";
  }
}

/** Renders an error and its causes, one per line, for --debug. */
export function describeErrorChain(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 10; depth++) {
    if (current instanceof Error) {
      lines.push(
        depth === 0 ? (current.stack ?? current.message) : `caused by: ${current.stack ?? current.message}`,
      );
      current = current.cause;
    } else {
      lines.push(`caused by: ${JSON.stringify(current)}`);
      break;
    }
  }
  return lines.join("\n");
}

/** The message of an error and its first cause, for one-line reports. */
export function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}

import { spawn, type SpawnOptions } from "node:child_process";

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion with a deadline, capturing the tail of its output.
 * The deadline keeps a stuck tool from hanging a caller forever.
 */
export async function runProgram(
  command: string,
  args: string[],
  options: SpawnOptions & { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const { input, timeoutMs = 120_000, ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...spawnOptions, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const keepTail = (buffer: string, chunk: Buffer) => (buffer + chunk.toString("utf8")).slice(-64_000);
    child.stdout?.on("data", (chunk: Buffer) => (stdout = keepTail(stdout, chunk)));
    child.stderr?.on("data", (chunk: Buffer) => (stderr = keepTail(stderr, chunk)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} failed or was interrupted`, { cause: error }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(input ?? "");
  });
}

/** Runs a program and throws with its stderr tail when it does not exit 0. */
export async function runProgramChecked(
  command: string,
  args: string[],
  options: SpawnOptions & { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const result = await runProgram(command, args, options);
  if (result.code !== 0) {
    const tail = (result.stderr || result.stdout).trim().split("\n").slice(-5).join("\n");
    throw new Error(`${command} exited with ${result.code ?? result.signal}: ${tail}`);
  }
  return result;
}

/** Sends a signal to one process; false when it is gone already. Other failures (EPERM) throw. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/**
 * Sends a signal to a whole process group (its leader's PID); false when no member could be
 * signalled (the group is gone). Quiet: stopping what may already have stopped is not an error.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True when a process with this PID exists (signal 0 probes without touching it). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Sleeps; used by bounded polling loops. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value or the deadline passes; always bounded. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== null && value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(options.intervalMs ?? 200);
  }
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}`, { cause: lastError });
}

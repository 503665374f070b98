import { chmod, rm } from "node:fs/promises";
import { createConnection, createServer, type Server } from "node:net";
import { HapressError } from "../../errors.js";

/** One request per connection, newline-delimited JSON both ways. */
export interface RpcRequest {
  method: string;
  params?: Record<string, unknown>;
}

/**
 * A failure as it crosses the socket: its message, the messages of its causes (outermost first) and
 * the exit code a command should end with (2 for bad input, 1 otherwise), so the caller's error says
 * what the serving side's did.
 */
export interface RpcFailure {
  message: string;
  causes: string[];
  exitCode: number;
}

export type RpcResponse = { ok: true; result: unknown } | { ok: false; error: RpcFailure };

/** An error the other side of the socket answered with: its exit code and causes kept. */
export class RemoteError extends HapressError {
  readonly causes: string[];
  constructor(failure: RpcFailure) {
    super(failure.causes.length > 0 ? `${failure.message}: ${failure.causes.join(": ")}` : failure.message, {
      exitCode: failure.exitCode,
    });
    this.name = "RemoteError";
    this.causes = failure.causes;
  }
}

/** How an error is sent: its message, its chain of causes (bounded), its exit code. */
export function toRpcFailure(error: unknown): RpcFailure {
  const causes: string[] = [];
  let cause = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    causes.push(cause instanceof Error ? cause.message : JSON.stringify(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return {
    message: error instanceof Error ? error.message : String(error),
    causes,
    exitCode: error instanceof HapressError ? error.exitCode : 1,
  };
}

export type RpcHandler = (request: RpcRequest) => Promise<unknown>;

const MAX_REQUEST_BYTES = 1_000_000;

/** Serves the supervisor's control socket, mode 0600 so only the owner can drive the site. */
export async function serveRpc(socketPath: string, handler: RpcHandler): Promise<Server> {
  await rm(socketPath, { force: true });
  const server = createServer((socket) => {
    let buffer = "";
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      if (buffer.length > MAX_REQUEST_BYTES) return socket.destroy();
      const newline = buffer.indexOf("\n");
      if (newline < 0) return;
      const line = buffer.slice(0, newline);
      buffer = "";
      void respond(line).then((response) => socket.end(`${JSON.stringify(response)}\n`));
    });
  });
  const respond = async (line: string): Promise<RpcResponse> => {
    try {
      const request = JSON.parse(line) as RpcRequest;
      return { ok: true, result: await handler(request) };
    } catch (error) {
      return { ok: false, error: toRpcFailure(error) };
    }
  };
  const previousMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(previousMask);
  }
  await chmod(socketPath, 0o600);
  return server;
}

export class SupervisorUnreachable extends Error {}

/** Calls the supervisor; throws SupervisorUnreachable when nothing listens on the socket. */
export function callRpc<T>(socketPath: string, request: RpcRequest, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffer = "";
    let connected = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the supervisor did not answer '${request.method}' within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => {
      connected = true;
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on("data", (chunk: Buffer) => (buffer += chunk.toString("utf8")));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!connected && (error.code === "ENOENT" || error.code === "ECONNREFUSED")) {
        reject(new SupervisorUnreachable("the site's supervisor is not running"));
      } else reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      if (!buffer)
        return reject(new Error(`the supervisor closed the connection during '${request.method}'`));
      try {
        const response = JSON.parse(buffer) as RpcResponse;
        if (response.ok) resolve(response.result as T);
        // A peer of an older version answers with the message alone.
        else if (typeof response.error === "string") reject(new HapressError(response.error));
        else reject(new RemoteError(response.error));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

import { chmod, rm } from "node:fs/promises";
import { createConnection, createServer, type Server } from "node:net";

/** One request per connection, newline-delimited JSON both ways. */
export interface RpcRequest {
  method: string;
  params?: Record<string, unknown>;
}

export type RpcResponse = { ok: true; result: unknown } | { ok: false; error: string };

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
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
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
        else reject(new Error(response.error));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

import { createServer, type Server, type ServerResponse } from "node:http";
import { isLoopbackIPv4Literal } from "../util/net.js";

/**
 * Serves GET /metrics (the Prometheus text format); anything else is 404. Locally on a loopback
 * address only; a Kubernetes pod (`onPodAddress`) serves on its own address, where its NetworkPolicy
 * lets the monitoring namespace in and nobody else.
 */
export function serveMetrics(
  address: string,
  port: number,
  exposition: () => Promise<{ contentType: string; body: string }>,
  onPodAddress = false,
): Promise<Server> {
  if (!onPodAddress && !isLoopbackIPv4Literal(address))
    throw new Error(`metrics are served on loopback only, not on '${address}' (e.g. 127.10.20.4)`);
  const server = createServer((request, response) => {
    if (request.method !== "GET" || request.url !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics\n");
      return;
    }
    respondWithMetrics(response, exposition);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => resolve(server));
  });
}

/** Answers a scrape with the exposition, or 500 with the cause (also used by the pods' health port). */
export function respondWithMetrics(
  response: ServerResponse,
  exposition: () => Promise<{ contentType: string; body: string }>,
): void {
  exposition().then(
    ({ contentType, body }) => response.writeHead(200, { "content-type": contentType }).end(body),
    (error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(`${String(error)}\n`),
  );
}

import { createServer, type Server } from "node:http";

/**
 * A pod's health endpoints for its kubelet: /healthz, the process's loops are turning (the liveness
 * probe restarts a wedged process); /readyz, it does its job. `leading` is shown (controllers), and
 * /metrics when the process has metrics.
 */
export function serveHealth(
  port: number,
  address: string,
  state: () => { alive: boolean; ready: boolean; leading?: boolean },
): Promise<Server> {
  const server = createServer((request, response) => {
    const { alive, ready, leading } = state();
    const ok = request.url === "/readyz" ? ready : request.url === "/healthz" ? alive : null;
    if (ok === null) {
      response.writeHead(404).end("not found\n");
      return;
    }
    response
      .writeHead(ok ? 200 : 503, { "content-type": "text/plain" })
      .end(`${ok ? "ok" : "not ok"}${leading === undefined ? "" : leading ? " (leader)" : " (standby)"}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => resolve(server));
  });
}

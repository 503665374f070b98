import type { Socket } from "node:net";
import { encodeReport, type ServerWatch } from "./server-watch.js";

/** Sent inside a channel keyed by the watch key: report the server's state now and at every change. */
export const WATCH_REQUEST = "HAPRESS-WATCH 1";
/** Subscribers to the server watch at once (the leading controller, and one more during a hand-over). */
export const MAX_WATCHERS = 4;

/**
 * A holder of the watch key (the controller) subscribes to the server's state: one line now, one at
 * every change, until either side closes. That key allows nothing else (no backup).
 */
export function serveWatch(
  socket: Socket,
  raw: Socket,
  request: string,
  options: { log: (line: string) => void; watch?: ServerWatch },
  watchers: Set<Socket>,
): void {
  const peer = raw.remoteAddress ?? "?";
  if (request !== WATCH_REQUEST) {
    options.log(`refused a watch request from ${peer}: unknown request (another hapress version?)`);
    socket.end(`ERR unknown request; the watch key allows only ${WATCH_REQUEST}\n`);
    return;
  }
  if (!options.watch) {
    socket.end("ERR this agent does not watch its server\n");
    return;
  }
  if (watchers.size >= MAX_WATCHERS) {
    options.log(`refused a watch request from ${peer}: ${MAX_WATCHERS} subscribers already`);
    socket.end("ERR busy: too many subscribers\n");
    return;
  }
  watchers.add(socket);
  // A subscriber that vanished without a word (its node died) is noticed and its slot freed.
  raw.setKeepAlive(true, 5_000);
  options.log(`${peer} subscribed to the server's state`);
  socket.write("OK\n");
  const unsubscribe = options.watch.subscribe((report) => socket.write(encodeReport(report)));
  // A subscriber has nothing more to say; whatever it sends is read and dropped, never buffered.
  socket.resume();
  socket.on("close", () => {
    unsubscribe();
    watchers.delete(socket);
  });
}

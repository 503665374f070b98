import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HeldSession } from "../mysql/client.js";
import {
  decodeReport,
  encodeReport,
  ServerWatch,
  type ServerReport,
  type ServerWatchDeps,
} from "./server-watch.js";

/**
 * A scripted server: each call to holdSession takes the next step. "refused" rejects (nothing listens);
 * "busy" rejects while the socket still answers (too many connections); "session" opens a session the
 * test ends with `end(reason, gone)`.
 */
function scriptedServer(steps: ("refused" | "busy" | "session")[]) {
  let listening = false;
  let endSession: ((reason: string) => void) | null = null;
  let opened = 0;
  const waiters: (() => void)[] = [];
  const deps: ServerWatchDeps = {
    holdSession() {
      const step = steps.shift() ?? "refused";
      if (step === "refused") {
        listening = false;
        return Promise.reject(new Error("connect ECONNREFUSED"));
      }
      listening = true;
      if (step === "busy") return Promise.reject(new Error("Too many connections"));
      opened += 1;
      const ended = new Promise<string>((resolve) => (endSession = resolve));
      for (const wake of waiters.splice(0)) wake();
      return Promise.resolve<HeldSession>({ ended, close: () => endSession?.("closed by the agent") });
    },
    socketRefuses: () => Promise.resolve(!listening),
    // Yields to the event loop only: the script, not the clock, paces the watch.
    sleep: () => new Promise((resolve) => setImmediate(resolve)),
    now: () => Date.parse("2026-11-29T12:00:00Z"),
    log: () => undefined,
  };
  return {
    deps,
    get opened() {
      return opened;
    },
    /** Ends the open session; `gone` says whether the server process went with it. */
    end(reason: string, gone: boolean) {
      listening = !gone;
      endSession?.(reason);
    },
    /** Resolves once `count` sessions have been opened. */
    sessions(count: number): Promise<void> {
      return new Promise((resolve) => {
        const check = () => (opened >= count ? resolve() : waiters.push(check));
        check();
      });
    },
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("the agent's server watch", () => {
  it("reports nothing for a server that never started, then up, then exited when its process goes", async () => {
    const server = scriptedServer(["refused", "refused", "session", "refused"]);
    const watch = new ServerWatch(server.deps);
    const seen: ServerReport[] = [];
    watch.subscribe((report) => seen.push(report));
    await server.sessions(1);
    await settle();
    assert.deepEqual(
      seen.map((r) => r.state),
      ["unknown", "up"],
      "a refused socket before the server was ever up is not an exit",
    );
    server.end("PROTOCOL_CONNECTION_LOST", true);
    await settle();
    assert.deepEqual(
      seen.map((r) => r.state),
      ["unknown", "up", "exited"],
    );
    assert.match(seen[2]?.detail ?? "", /PROTOCOL_CONNECTION_LOST.*refuses connections/);
    await watch.stop();
  });

  it("a session the server dropped while still listening is no exit: it reconnects and says nothing", async () => {
    const server = scriptedServer(["session", "busy", "session"]);
    const watch = new ServerWatch(server.deps);
    const seen: string[] = [];
    watch.subscribe((report) => seen.push(report.state));
    await server.sessions(1);
    server.end("the server closed the session", false);
    await server.sessions(2);
    await settle();
    assert.deepEqual(seen, ["unknown", "up"]);
    await watch.stop();
  });

  it("reports the server up again after a restart, and a late subscriber gets the current state first", async () => {
    const server = scriptedServer(["session", "refused", "session"]);
    const watch = new ServerWatch(server.deps);
    const first: string[] = [];
    watch.subscribe((report) => first.push(report.state));
    await server.sessions(1);
    server.end("PROTOCOL_CONNECTION_LOST", true);
    await server.sessions(2);
    await settle();
    assert.deepEqual(first, ["unknown", "up", "exited", "up"]);
    const late: string[] = [];
    const unsubscribe = watch.subscribe((report) => late.push(report.state));
    assert.deepEqual(late, ["up"]);
    unsubscribe();
    await watch.stop();
  });

  it("opens no session until someone subscribes", async () => {
    const server = scriptedServer(["session"]);
    const watch = new ServerWatch(server.deps);
    await settle();
    assert.equal(server.opened, 0);
    await watch.stop();
  });

  it("encodes reports as one line each, and decodes them back", () => {
    const report: ServerReport = {
      state: "exited",
      at: "2026-11-29T12:00:00.000Z",
      detail: "its socket\nrefuses",
    };
    const line = encodeReport(report);
    assert.equal(line, "exited 2026-11-29T12:00:00.000Z its socket refuses\n");
    assert.deepEqual(decodeReport(line), { ...report, detail: "its socket refuses" });
    assert.equal(decodeReport("OK"), null);
  });
});

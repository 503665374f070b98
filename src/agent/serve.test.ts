import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { sleep } from "../util/process.js";
import { openCloneChannel, openWatchChannel, serverWatchKey } from "./clone-channel.js";
import { decodeReport, ServerWatch } from "./server-watch.js";
import { cloneFromDonor, serveBackups, type BackupServerOptions } from "./clone.js";
import { encodeDataFrame, FrameDecoder, MAX_FRAME_BYTES } from "./frames.js";

const TOKEN = "token-0123456789abcdef";
const REQUEST = "HAPRESS-CLONE 2\n";

function agentOptions(overrides: Partial<BackupServerOptions> = {}): BackupServerOptions {
  return {
    address: "127.0.0.1",
    port: 0,
    socket: "/nonexistent.sock",
    token: TOKEN,
    user: "hapress_backup",
    password: "secret-password-0123",
    log: () => undefined,
    ...overrides,
  };
}

/** Runs `body` with PATH set to `path` (the agent finds mariadb-backup through PATH). */
async function withPath<T>(path: string, body: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = path;
  try {
    return await body();
  } finally {
    process.env.PATH = saved;
  }
}

/** Over the clone channel with `token`: everything the agent sends until it closes, or the error. */
function tlsExchange(
  port: number,
  token: string,
  send: (socket: Socket) => void,
): Promise<{ data: Buffer; error?: Error & { code?: string }; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = openCloneChannel("127.0.0.1", port, token);
    const chunks: Buffer[] = [];
    let error: (Error & { code?: string }) | undefined;
    socket.on("secureConnect", () => send(socket));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (e: Error & { code?: string }) => (error = e));
    socket.on("close", () =>
      resolve({ data: Buffer.concat(chunks), error, closedAfterMs: Date.now() - started }),
    );
  });
}

function backupFolders(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith("hapress-backup-"));
}

/** Plain TCP: connects and collects everything the agent sends until it closes the connection. */
function exchange(
  port: number,
  send: (socket: Socket) => void,
): Promise<{ data: Buffer; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = createConnection({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    socket.on("connect", () => send(socket));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve({ data: Buffer.concat(chunks), closedAfterMs: Date.now() - started }));
  });
}

describe("the backup agent under bad conditions", () => {
  it("refuses a frame longer than the maximum instead of buffering it", () => {
    const decoder = new FrameDecoder();
    const header = encodeDataFrame(Buffer.alloc(1)).subarray(0, 4);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    assert.throws(() => decoder.push(header), /exceeds the maximum/);
  });

  it("survives a missing mariadb-backup: the peer gets a failed end frame, no password file is left", async () => {
    const before = new Set(backupFolders());
    const lines: string[] = [];
    const agent = await serveBackups(agentOptions({ log: (line) => lines.push(line) }));
    try {
      await withPath("/nonexistent", async () => {
        for (let round = 0; round < 2; round++) {
          const { data } = await tlsExchange(agent.port, TOKEN, (s) => s.write(REQUEST));
          assert.equal(data.subarray(0, 3).toString(), "OK\n");
          const events = new FrameDecoder().push(data.subarray(3));
          assert.deepEqual(events.at(-1), { kind: "end", status: 1 }, "the donor reports the failure");
        }
      });
    } finally {
      agent.close();
    }
    assert.ok(
      lines.some((line) => /cannot run mariadb-backup/.test(line)),
      lines.join("\n"),
    );
    assert.deepEqual(
      backupFolders().filter((name) => !before.has(name)),
      [],
      "the private password folder is removed",
    );
  });

  it("closes a connection whose request does not arrive by the deadline, however it trickles", async () => {
    const agent = await serveBackups(agentOptions({ greetingDeadlineMs: 300 }));
    try {
      const { data, closedAfterMs } = await tlsExchange(agent.port, TOKEN, (socket) => {
        // One byte every 50 ms would keep an idle timeout from ever firing.
        const dribble = setInterval(() => socket.writable && socket.write("H"), 50);
        socket.on("close", () => clearInterval(dribble));
      });
      assert.equal(data.length, 0, "nothing is served");
      assert.ok(closedAfterMs >= 250 && closedAfterMs < 3000, `closed after ${closedAfterMs} ms`);
      const silent = await exchange(agent.port, () => undefined);
      assert.equal(silent.data.length, 0, "a connection that never starts TLS gets nothing");
      assert.ok(
        silent.closedAfterMs >= 250 && silent.closedAfterMs < 3000,
        `closed after ${silent.closedAfterMs} ms`,
      );
    } finally {
      agent.close();
    }
    await sleep(10);
  });
});

/**
 * A stand-in mariadb-backup (a shell script first on PATH) that writes a recognisable text, so a
 * test can look for it on the wire. The real program is exercised by the database suites.
 */
function fakeBackupProgram(marker: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "hapress-fake-backup-"));
  const program = join(dir, "mariadb-backup");
  writeFileSync(program, `#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8; do printf '%s' '${marker}'; done\n`);
  chmodSync(program, 0o755);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A TCP relay that records every byte the donor sends, as an eavesdropper on the network would. */
async function recordingRelay(
  targetPort: number,
): Promise<{ port: number; wire: Buffer[]; close: () => void }> {
  const wire: Buffer[] = [];
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => (client.destroy(), upstream.destroy()));
    }
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => wire.push(chunk));
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const address = relay.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    wire,
    close: () => {
      relay.close();
      for (const s of sockets) s.destroy();
    },
  };
}

describe("the clone channel", () => {
  const marker = "hapress-wire-marker-0123456789";

  it("encrypts the stream: the backup's bytes never appear on the wire", async () => {
    const fake = fakeBackupProgram(marker);
    const agent = await serveBackups(agentOptions());
    const relay = await recordingRelay(agent.port);
    try {
      const { data, error } = await withPath(`${fake.dir}:${process.env.PATH ?? ""}`, () =>
        tlsExchange(relay.port, TOKEN, (s) => s.write(REQUEST)),
      );
      assert.equal(error, undefined);
      const events = new FrameDecoder().push(data.subarray(3));
      const received = Buffer.concat(
        events.flatMap((e) => (e.kind === "data" ? [e.payload] : [])),
      ).toString();
      assert.equal(received, marker.repeat(8), "the client receives the backup");
      assert.deepEqual(events.at(-1), { kind: "end", status: 0 });
      const wire = Buffer.concat(relay.wire);
      assert.ok(wire.length > marker.length * 8, "the relay saw the stream");
      assert.equal(wire.indexOf(marker), -1, "no plaintext on the wire");
      assert.equal(wire.indexOf(TOKEN), -1, "the token is never sent");
    } finally {
      relay.close();
      agent.close();
      fake.remove();
    }
  });

  it("ends a stream its peer stopped taking, so the next peer is not refused as busy", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hapress-fake-backup-"));
    // A backup that never ends: only the peer's reading can slow it down.
    writeFileSync(join(dir, "mariadb-backup"), "#!/bin/sh\nexec cat /dev/zero\n");
    chmodSync(join(dir, "mariadb-backup"), 0o755);
    const lines: string[] = [];
    const agent = await serveBackups(agentOptions({ log: (line) => lines.push(line), streamStallMs: 500 }));
    const stalled = openCloneChannel("127.0.0.1", agent.port, TOKEN);
    try {
      await withPath(`${dir}:${process.env.PATH ?? ""}`, async () => {
        stalled.on("error", () => undefined);
        // Takes the first bytes, then nothing more: a peer whose pod was killed mid-stream.
        stalled.once("secureConnect", () => stalled.write(REQUEST));
        stalled.once("data", () => stalled.pause());
        for (let i = 0; i < 100 && !lines.some((l) => l.startsWith("ended the backup stream")); i++)
          await sleep(100);
        assert.ok(
          lines.some((l) => /^ended the backup stream to .*: it took nothing for/.test(l)),
          lines.join("\n"),
        );
        const next = await tlsExchange(agent.port, TOKEN, (s) => {
          s.write(REQUEST);
          s.once("data", () => s.destroy());
        });
        assert.equal(next.data.subarray(0, 3).toString(), "OK\n", "the slot was freed");
        assert.ok(!lines.some((l) => /already streaming/.test(l)), lines.join("\n"));
      });
    } finally {
      stalled.destroy();
      agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives a peer with a wrong token nothing, and says so in the agent's log", async () => {
    const fake = fakeBackupProgram(marker);
    const lines: string[] = [];
    const agent = await serveBackups(agentOptions({ log: (line) => lines.push(line) }));
    try {
      const { data, error } = await withPath(`${fake.dir}:${process.env.PATH ?? ""}`, () =>
        tlsExchange(agent.port, "another-site-token-000000", (s) => s.write(REQUEST)),
      );
      assert.equal(data.length, 0, "not one byte of data");
      assert.match(error?.code ?? "", /^ERR_SSL/, "the handshake fails");
      await sleep(50);
      assert.ok(
        lines.some((line) => /refused a connection .*does not hold this site's clone token/.test(line)),
        lines.join("\n"),
      );
      assert.ok(!lines.some((line) => /streaming a backup/.test(line)), "no backup was started");
    } finally {
      agent.close();
      fake.remove();
    }
  });

  it("will not clone from an impostor donor: the clone fails clearly and leaves no data folder", async () => {
    const fake = fakeBackupProgram(marker);
    const impostor = await serveBackups(agentOptions({ token: "impostor-token-000000000" }));
    const dataDir = join(mkdtempSync(join(tmpdir(), "hapress-impostor-")), "data");
    try {
      await withPath(`${fake.dir}:${process.env.PATH ?? ""}`, async () => {
        await assert.rejects(
          cloneFromDonor({
            donor: { name: "mysql-0", address: "127.0.0.1", port: impostor.port },
            token: TOKEN,
            dataDir,
            timeoutMs: 10_000,
          }),
          (error: Error) => {
            const cause = (error.cause as Error | undefined)?.message ?? "";
            assert.match(cause, /does not hold this site's clone token/);
            return true;
          },
        );
      });
      assert.equal(existsSync(dataDir), false, "no data folder");
    } finally {
      impostor.close();
      fake.remove();
      rmSync(join(dataDir, ".."), { recursive: true, force: true });
    }
  });
});

describe("the server watch channel", () => {
  /** A watch over a server the test controls: `exit()` makes its process go away. */
  function controlledWatch() {
    let listening = true;
    let end: ((reason: string) => void) | null = null;
    const watch = new ServerWatch({
      holdSession: () =>
        listening
          ? Promise.resolve({
              ended: new Promise<string>((resolve) => (end = resolve)),
              close: () => end?.("closed"),
            })
          : Promise.reject(new Error("connect ECONNREFUSED")),
      socketRefuses: () => Promise.resolve(!listening),
      sleep,
      now: () => Date.now(),
      log: () => undefined,
    });
    return {
      watch,
      exit() {
        listening = false;
        end?.("PROTOCOL_CONNECTION_LOST");
      },
    };
  }

  /** Subscribes with `key`; resolves with the lines received once `until` matches them, or at close. */
  function subscribe(
    port: number,
    key: Buffer,
    until: (lines: string[]) => boolean,
    request = "HAPRESS-WATCH 1\n",
  ): { lines: Promise<string[]>; error: () => (Error & { code?: string }) | undefined } {
    const socket = openWatchChannel("127.0.0.1", port, key);
    let text = "";
    let error: (Error & { code?: string }) | undefined;
    const lines = new Promise<string[]>((resolve) => {
      const current = () => text.split("\n").filter((line) => line !== "");
      socket.on("secureConnect", () => socket.write(request));
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (until(current())) {
          socket.destroy();
          resolve(current());
        }
      });
      socket.on("error", (e: Error & { code?: string }) => (error = e));
      socket.on("close", () => resolve(current()));
    });
    return { lines, error: () => error };
  }

  it("tells a holder of the watch key the server's state, then the moment its process goes", async () => {
    const server = controlledWatch();
    const agent = await serveBackups(agentOptions({ watch: server.watch }));
    try {
      let killed = false;
      const up = subscribe(agent.port, serverWatchKey(TOKEN), (lines) => {
        // The server goes once the subscriber has seen it up (as a crash would come, at any later time).
        if (!killed && lines.some((l) => l.startsWith("up "))) {
          killed = true;
          server.exit();
        }
        return lines.some((l) => l.startsWith("exited "));
      });
      const lines = await up.lines;
      assert.equal(lines[0], "OK");
      assert.deepEqual(
        lines.slice(1).map((line) => decodeReport(line)?.state),
        ["unknown", "up", "exited"],
        "the first subscriber starts the watch",
      );
    } finally {
      agent.close();
      await server.watch.stop();
    }
  });

  it("the watch key allows no backup, and the clone token's channel no watch", async () => {
    const server = controlledWatch();
    const agent = await serveBackups(agentOptions({ watch: server.watch }));
    try {
      const clone = await subscribe(agent.port, serverWatchKey(TOKEN), () => false, REQUEST).lines;
      assert.match(clone.join("\n"), /^ERR unknown request; the watch key allows only HAPRESS-WATCH 1/);
      const { data } = await tlsExchange(agent.port, TOKEN, (s) => s.write("HAPRESS-WATCH 1\n"));
      assert.match(data.toString(), /^ERR unknown request; this agent speaks HAPRESS-CLONE 2/);
      const wrong = subscribe(agent.port, serverWatchKey("another site's token"), () => false);
      assert.deepEqual(await wrong.lines, [], "a wrong key gets nothing");
      assert.match(wrong.error()?.code ?? "", /^ERR_SSL/);
    } finally {
      agent.close();
      await server.watch.stop();
    }
  });
});

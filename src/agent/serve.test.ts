import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { sleep } from "../util/process.js";
import { serveBackups } from "./clone.js";
import { encodeDataFrame, FrameDecoder, MAX_FRAME_BYTES } from "./frames.js";

const TOKEN = "token-0123456789abcdef";

function backupFolders(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith("hapress-backup-"));
}

/** Connects and collects everything the agent sends until it closes the connection. */
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
    const agent = await serveBackups({
      address: "127.0.0.1",
      port: 0,
      socket: "/nonexistent.sock",
      token: TOKEN,
      user: "hapress_backup",
      password: "secret-password-0123",
      log: (line) => lines.push(line),
    });
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      for (let round = 0; round < 2; round++) {
        const { data } = await exchange(agent.port, (s) => s.write(`HAPRESS-CLONE 1 ${TOKEN}\n`));
        assert.equal(data.subarray(0, 3).toString(), "OK\n");
        const events = new FrameDecoder().push(data.subarray(3));
        assert.deepEqual(events.at(-1), { kind: "end", status: 1 }, "the donor reports the failure");
      }
    } finally {
      process.env.PATH = path;
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

  it("closes a connection whose greeting does not arrive by the deadline, however it trickles", async () => {
    const agent = await serveBackups({
      address: "127.0.0.1",
      port: 0,
      socket: "/nonexistent.sock",
      token: TOKEN,
      user: "hapress_backup",
      password: "secret-password-0123",
      greetingDeadlineMs: 300,
      log: () => undefined,
    });
    try {
      const { data, closedAfterMs } = await exchange(agent.port, (socket) => {
        // One byte every 50 ms would keep an idle timeout from ever firing.
        const dribble = setInterval(() => socket.writable && socket.write("H"), 50);
        socket.on("close", () => clearInterval(dribble));
      });
      assert.equal(data.length, 0, "nothing is served");
      assert.ok(closedAfterMs >= 250 && closedAfterMs < 3000, `closed after ${closedAfterMs} ms`);
    } finally {
      agent.close();
    }
    await sleep(10);
  });
});

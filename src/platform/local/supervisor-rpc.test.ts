import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { HapressError, InputError } from "../../errors.js";
import { callRpc, RemoteError, serveRpc } from "./rpc.js";
import { parseSupervisorRequest } from "./supervisor-rpc.js";

test("requests are checked against their schema: typed fields, defaults, a clear refusal", () => {
  assert.deepEqual(parseSupervisorRequest({ method: "fence", params: { pod: "mysql-2" } }), {
    method: "fence",
    params: { pod: "mysql-2" },
  });
  assert.deepEqual(parseSupervisorRequest({ method: "progress" }), {
    method: "progress",
    params: { since: 0 },
  });
  assert.deepEqual(parseSupervisorRequest({ method: "reclone", params: { pod: "mysql-1" } }), {
    method: "reclone",
    params: { pod: "mysql-1", reason: "requested" },
  });
  assert.throws(
    () => parseSupervisorRequest({ method: "fence", params: { pod: "wordpress-0" } }),
    (error: unknown) =>
      error instanceof InputError &&
      /request 'fence' \(params.pod\): a database pod's name/.test(error.message),
  );
  assert.throws(() => parseSupervisorRequest({ method: "format-disk" }), /refuses request 'format-disk'/);
});

test("an error crosses the socket with its causes and its exit code", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rpc-"));
  const socket = join(dir, "s.sock");
  const server = await serveRpc(socket, (request) => {
    if (request.method === "input") return Promise.reject(new InputError("bad pod"));
    const cause = new Error("EACCES: permission denied, open '/x'");
    return Promise.reject(new HapressError("cannot fence mysql-1", { cause }));
  });
  try {
    await assert.rejects(
      callRpc(socket, { method: "fail" }),
      (error: unknown) =>
        error instanceof RemoteError &&
        error.exitCode === 1 &&
        error.message === "cannot fence mysql-1: EACCES: permission denied, open '/x'" &&
        error.causes.length === 1,
    );
    await assert.rejects(
      callRpc(socket, { method: "input" }),
      (error: unknown) => error instanceof RemoteError && error.exitCode === 2,
    );
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

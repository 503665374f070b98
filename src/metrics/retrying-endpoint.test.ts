import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { RetryingMetricsEndpoint } from "./retrying-endpoint.js";

test("a taken metrics port is said once and bound once it is free", async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  const address = holder.address();
  assert.ok(address && typeof address !== "string");
  const lines: string[] = [];
  const endpoint = new RetryingMetricsEndpoint(
    "127.0.0.1",
    address.port,
    () => Promise.resolve({ contentType: "text/plain", body: "hapress_up 1\n" }),
    (line) => lines.push(line),
  );
  try {
    for (let i = 0; i < 3; i++) await endpoint.ensure();
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0] ?? "", /metrics not served yet on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    await endpoint.ensure();
    const answer = await fetch(`http://127.0.0.1:${address.port}/metrics`);
    assert.equal(await answer.text(), "hapress_up 1\n");
  } finally {
    endpoint.close();
    holder.close();
  }
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isLoopbackIPv4Literal } from "./net.js";

describe("loopback check", () => {
  it("accepts IPv4 literals in 127.0.0.0/8 only", () => {
    for (const good of ["127.0.0.1", "127.8.9.10", "127.255.255.254"])
      assert.equal(isLoopbackIPv4Literal(good), true, good);
    for (const bad of [
      "127.evil.invalid",
      "127.0.0.1.nip.io",
      "localhost",
      "10.0.0.1",
      "0.0.0.0",
      "1127.0.0.1",
      "127.0.0.256",
      "::1",
      "",
    ])
      assert.equal(isLoopbackIPv4Literal(bad), false, bad);
  });
});

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { renderServiceUnit, serviceUnitName, systemdArgument } from "./service-unit.js";

const input = {
  siteName: "shop",
  stateDir: "/srv/sites/shop 100%/.hapress",
  command: process.execPath,
  args: ["/opt/hapress/dist/src/cli/main.js"],
  system: true,
  path: "/usr/local/bin:/usr/bin:/usr/sbin",
};

describe("the systemd unit of a site", () => {
  it("runs the supervisor in the foreground, notifies readiness and keeps the site's processes on a crash", () => {
    const unit = renderServiceUnit(input);
    assert.match(unit, /^Type=notify$/m);
    assert.match(unit, /^KillMode=process$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
    assert.match(unit, / --dir "\/srv\/sites\/shop 100%%\/\.hapress" supervise$/m);
    assert.match(renderServiceUnit({ ...input, system: false }), /^WantedBy=default\.target$/m);
  });

  it("escapes what systemd would otherwise expand or split", () => {
    assert.equal(systemdArgument("/usr/bin/node"), "/usr/bin/node");
    assert.equal(systemdArgument("a b"), '"a b"');
    assert.equal(systemdArgument("50%"), "50%%");
    assert.equal(systemdArgument('say "$HOME"'), '"say \\"$$HOME\\""');
  });

  it("names one unit per state folder", () => {
    assert.notEqual(serviceUnitName("shop", "/a/.hapress"), serviceUnitName("shop", "/b/.hapress"));
    assert.match(serviceUnitName("shop", "/a/.hapress"), /^hapress-shop-[0-9a-f]{8}\.service$/);
  });

  it("passes systemd-analyze verify", () => {
    const dir = mkdtempSync(join(tmpdir(), "hapress-unit-"));
    try {
      const file = join(dir, serviceUnitName("shop", input.stateDir));
      writeFileSync(file, renderServiceUnit({ ...input, args: [process.argv[1] ?? ""] }));
      const result = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
      const complaints = `${result.stdout}${result.stderr}`
        .split("\n")
        // Not about our unit: this machine runs no systemd, so the targets it names are not loaded.
        .filter((line) => line.trim() !== "" && line.includes(file));
      assert.deepEqual(complaints, []);
      assert.equal(result.status, 0, result.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

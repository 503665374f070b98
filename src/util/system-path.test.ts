import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newestPhpFpm, withSystemDirs } from "./system-path.js";

describe("finding Debian's server programs whatever the PATH", () => {
  it("appends the sbin folders an ordinary user's PATH lacks, keeping the user's order first", () => {
    const path = withSystemDirs("/home/ann/bin:/usr/bin:/bin");
    assert.ok(path.startsWith("/home/ann/bin:/usr/bin:/bin:"));
    for (const dir of ["/usr/sbin", "/sbin", "/usr/local/sbin"])
      assert.ok(path.split(":").includes(dir), dir);
    assert.equal(path.split(":").filter((d) => d === "/usr/bin").length, 1, "no duplicate");
    assert.ok(withSystemDirs(undefined).includes("/usr/sbin"));
  });

  it("picks the newest versioned php-fpm", () => {
    assert.equal(newestPhpFpm(["php-fpm8.2", "php-fpm8.10", "php-fpm7.4", "php"]), "php-fpm8.10");
    assert.equal(newestPhpFpm(["nginx"]), null);
  });
});

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { WORDPRESS_KEY_NAMES, type Secrets } from "../state/secrets.js";
import {
  countCacheStatuses,
  emptyCacheCounts,
  hitRatio,
  refreshTokenMap,
  renderCacheProxyConfig,
} from "./page-cache.js";
import {
  ALIVE_PHP,
  HEALTH_PHP,
  renderNginxConfig,
  renderPhpFpmConfig,
  WP_CONFIG_PHP,
  wordpressEnvironment,
} from "./config.js";

const secrets: Secrets = {
  replicationUser: "repl",
  replicationPassword: "r",
  adminUser: "hapress_admin",
  adminPassword: "a",
  appUser: "wordpress",
  appPassword: 'p"w\\d',
  appDatabase: "wordpress",
  backupUser: "hapress_backup",
  backupPassword: "backupPasswordForTests01",
  exporterUser: "hapress_exporter",
  exporterPassword: "exporterPasswordForTests1",
  cloneToken: "t",
  wordpressAdminPassword: "w",
  wordpressKeys: Object.fromEntries(WORDPRESS_KEY_NAMES.map((k) => [k, `${k}-value`])),
};

const pod = {
  podName: "wordpress-1",
  address: "127.9.9.51",
  port: 8080,
  coreDir: "/s/wordpress/core",
  runDir: "/s/pods/wordpress-1/run",
  logFile: "/s/logs/wordpress-1.log",
  workerUser: null,
  publicHost: "127.0.0.1:8080",
  pageCache: null,
};

describe("WordPress configuration", () => {
  it("wp-config.php reads the official image's variables", () => {
    for (const name of [
      "WORDPRESS_DB_HOST",
      "WORDPRESS_DB_USER",
      "WORDPRESS_DB_PASSWORD",
      "WORDPRESS_DB_NAME",
      "WORDPRESS_TABLE_PREFIX",
      "WORDPRESS_CONFIG_EXTRA",
      ...WORDPRESS_KEY_NAMES.map((k) => `WORDPRESS_${k}`),
    ]) {
      assert.ok(WP_CONFIG_PHP.includes(`'${name}'`), `reads ${name}`);
    }
  });

  it("the environment points at mysql-primary, the public URL, and disables wp-cron", () => {
    const env = wordpressEnvironment({ secrets, dbHost: "127.9.9.2:3306", siteUrl: "http://127.0.0.1:8080" });
    assert.equal(env.WORDPRESS_DB_HOST, "127.9.9.2:3306");
    assert.equal(env.WORDPRESS_AUTH_KEY, "AUTH_KEY-value");
    assert.match(env.WORDPRESS_CONFIG_EXTRA ?? "", /define\('WP_HOME', 'http:\/\/127\.0\.0\.1:8080'\)/);
    assert.match(env.WORDPRESS_CONFIG_EXTRA ?? "", /define\('DISABLE_WP_CRON', true\)/);
  });

  it("php-fpm gets the environment quoted and escaped, on a private socket", () => {
    const config = renderPhpFpmConfig(pod, { WORDPRESS_DB_PASSWORD: 'p"w\\d' });
    assert.match(config, /^env\[WORDPRESS_DB_PASSWORD\] = "p\\"w\\\\d"$/m);
    assert.match(config, /^listen = \/s\/pods\/wordpress-1\/run\/php-fpm.sock$/m);
    assert.match(config, /^listen.mode = 0600$/m);
    assert.doesNotMatch(config, /user = root/, "root only when running as root");
  });

  it("nginx listens on the pod address only and gives PHP the public host with its port", () => {
    const config = renderNginxConfig(pod);
    assert.match(config, /listen 127\.9\.9\.51:8080;/);
    assert.match(config, /fastcgi_param HTTP_HOST 127\.0\.0\.1:8080;/);
    assert.doesNotMatch(config, /include \/etc\/nginx\/fastcgi_params/);
    assert.match(config, /location = \/wp-config.php \{ deny all; \}/);
  });

  it("the health endpoint prints no configuration", () => {
    assert.doesNotMatch(HEALTH_PHP, /echo[^;]*(getenv|\$host|DB_)/);
  });
});

describe("the page cache in a pod's nginx", () => {
  const cached = renderNginxConfig({ ...pod, pageCache: { ttlSeconds: 7, refreshToken: "t0ken" } });

  it("caches GET pages for the TTL and serves a stale copy while PHP or the database fails", () => {
    assert.match(
      cached,
      /fastcgi_cache_path \/s\/pods\/wordpress-1\/run\/page-cache .*keys_zone=hapress_pages/,
    );
    assert.match(cached, /fastcgi_cache_valid 200 301 404 7s;/);
    assert.match(cached, /fastcgi_cache_use_stale error timeout invalid_header updating http_500 http_503;/);
    assert.match(cached, /add_header X-Hapress-Cache \$upstream_cache_status always;/);
  });

  it("skips private readers, paths, credentials, query strings and every method but GET", () => {
    for (const cookie of ["wordpress_logged_in_", "comment_author_", "wp-postpass_", "woocommerce_"])
      assert.ok(cached.includes(cookie), cookie);
    assert.match(cached, /wp-admin\|wp-login\\\.php/);
    assert.match(cached, /map \$request_method \$hapress_uncached_method \{ default 1; GET 0; \}/);
    assert.match(
      cached,
      /fastcgi_no_cache \$hapress_private_cookie \$hapress_private_path \$hapress_uncached_method \$http_authorization \$args;/,
    );
  });

  it("lets only the holder of the refresh token replace a page (the refresh skips the lookup, not the store)", () => {
    assert.match(cached, /map \$http_x_hapress_cache_refresh \$hapress_refresh \{ default 0; "t0ken" 1; \}/);
    assert.match(cached, /fastcgi_cache_bypass [^;]*\$hapress_refresh;/);
    assert.doesNotMatch(cached.match(/fastcgi_no_cache [^;]*;/)?.[0] ?? "", /refresh/);
  });

  it("is absent when the spec turns it off; the load balancer's check never needs the database", () => {
    const plain = renderNginxConfig(pod);
    assert.doesNotMatch(plain, /fastcgi_cache/);
    assert.match(plain, /location = \/hapress-alive/);
    assert.doesNotMatch(ALIVE_PHP, /mysqli|getenv/);
  });

  it("is a configuration nginx accepts (nginx -t), with and without the cache", () => {
    const dir = mkdtempSync(join(tmpdir(), "hapress-nginx-"));
    try {
      for (const pageCache of [null, { ttlSeconds: 5, refreshToken: "f".repeat(64) }]) {
        const config = join(dir, "nginx.conf");
        const files = { ...pod, runDir: dir, coreDir: dir, logFile: join(dir, "pod.log"), pageCache };
        writeFileSync(config, renderNginxConfig(files));
        const result = spawnSync("nginx", ["-t", "-c", config, "-e", join(dir, "pod.log")], {
          encoding: "utf8",
        });
        assert.equal(result.status, 0, result.stderr);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("on Kubernetes, the cache container's configuration is one nginx accepts too", () => {
    const dir = mkdtempSync(join(tmpdir(), "hapress-nginx-"));
    try {
      const mapFile = join(dir, "cache-refresh-map");
      writeFileSync(mapFile, `${refreshTokenMap("f".repeat(64))}\n`);
      const config = join(dir, "nginx.conf");
      writeFileSync(
        config,
        renderCacheProxyConfig({
          port: 18_999,
          ttlSeconds: 5,
          workDir: dir,
          refreshMapFile: mapFile,
          keepaliveSeconds: 2,
        }),
      );
      const result = spawnSync("nginx", ["-t", "-c", config, "-e", join(dir, "error.log")], {
        encoding: "utf8",
      });
      assert.equal(result.status, 0, result.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("counts what the caches did", () => {
    const counts = countCacheStatuses("HIT\nHIT\nMISS\nSTALE\nBYPASS\nEXPIRED\n", emptyCacheCounts());
    assert.deepEqual(counts, { hit: 2, stale: 1, miss: 2, bypass: 1 });
    assert.equal(hitRatio(counts), 0.6);
    assert.equal(hitRatio(emptyCacheCounts()), null);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WORDPRESS_KEY_NAMES, type Secrets } from "../state/secrets.js";
import {
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

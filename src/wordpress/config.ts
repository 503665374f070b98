import { WORDPRESS_KEY_NAMES, type Secrets } from "../state/secrets.js";
import {
  cacheHttpDirectives,
  cacheLocationDirectives,
  refreshTokenMap,
  type PageCacheSettings,
} from "./page-cache.js";

/**
 * Our wp-config.php: every setting from environment variables with the official WordPress image's
 * names, so one configuration model drives local pods and Kubernetes containers alike.
 */
export const WP_CONFIG_PHP = `<?php
// Written by hapress. Settings come from the environment, with the official image's variable names.
function hapress_env($name, $default = '') {
  $value = getenv($name);
  return $value === false ? $default : $value;
}
define('DB_NAME', hapress_env('WORDPRESS_DB_NAME', 'wordpress'));
define('DB_USER', hapress_env('WORDPRESS_DB_USER', 'wordpress'));
define('DB_PASSWORD', hapress_env('WORDPRESS_DB_PASSWORD'));
define('DB_HOST', hapress_env('WORDPRESS_DB_HOST', 'mysql-primary'));
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
${WORDPRESS_KEY_NAMES.map((name) => `define('${name}', hapress_env('WORDPRESS_${name}'));`).join("\n")}
$table_prefix = hapress_env('WORDPRESS_TABLE_PREFIX', 'wp_');
define('WP_DEBUG', false);
$hapress_extra = hapress_env('WORDPRESS_CONFIG_EXTRA');
if ($hapress_extra !== '') {
  eval($hapress_extra);
}
if (!defined('ABSPATH')) {
  define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
`;

/**
 * Readiness endpoint: runs PHP and reaches the database through the same settings as WordPress.
 * It answers only "ok" or "unavailable": no host, user, version or error text that could help an attacker.
 */
export const HEALTH_PHP = `<?php
header('Content-Type: application/json');
header('Cache-Control: no-store');
mysqli_report(MYSQLI_REPORT_OFF);
$host = getenv('WORDPRESS_DB_HOST');
$port = 3306;
if (strpos($host, ':') !== false) {
  [$host, $port] = explode(':', $host, 2);
}
$db = mysqli_init();
$db->options(MYSQLI_OPT_CONNECT_TIMEOUT, 2);
$ok = @$db->real_connect($host, getenv('WORDPRESS_DB_USER'), getenv('WORDPRESS_DB_PASSWORD'), getenv('WORDPRESS_DB_NAME'), (int) $port);
if ($ok) {
  $ok = $db->query('SELECT 1') !== false;
  $db->close();
}
http_response_code($ok ? 200 : 503);
echo $ok ? '{"status":"ok"}' : '{"status":"unavailable"}';
`;

/**
 * The load balancer's check of a pod: PHP runs and nginx reaches it. It does not touch the database:
 * a database outage is shared by every pod, and taking them all out of the load balancer for it would
 * turn a failover of a second into 503s for every reader (the page cache serves them meanwhile).
 */
export const ALIVE_PHP = `<?php
header('Content-Type: application/json');
header('Cache-Control: no-store');
echo '{"status":"alive"}';
`;

export interface WordpressEnvInput {
  secrets: Secrets;
  dbHost: string;
  siteUrl: string;
}

/** The environment of every WordPress container, with the official image's names. */
export function wordpressEnvironment(input: WordpressEnvInput): Record<string, string> {
  const { secrets } = input;
  const extra = [
    `define('WP_HOME', '${input.siteUrl}');`,
    `define('WP_SITEURL', '${input.siteUrl}');`,
    // wp-cron runs once a minute from the supervisor, not on page views of every replica.
    "define('DISABLE_WP_CRON', true);",
    "define('FS_METHOD', 'direct');",
  ].join(" ");
  return {
    WORDPRESS_DB_HOST: input.dbHost,
    WORDPRESS_DB_USER: secrets.appUser,
    WORDPRESS_DB_PASSWORD: secrets.appPassword,
    WORDPRESS_DB_NAME: secrets.appDatabase,
    WORDPRESS_TABLE_PREFIX: "wp_",
    ...Object.fromEntries(
      WORDPRESS_KEY_NAMES.map((name) => [`WORDPRESS_${name}`, secrets.wordpressKeys[name] ?? ""]),
    ),
    WORDPRESS_CONFIG_EXTRA: extra,
  };
}

function phpFpmValue(value: string): string {
  // php-fpm's ini parser: quoted, with quotes and backslashes escaped.
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export interface PodFiles {
  podName: string;
  address: string;
  port: number;
  coreDir: string;
  runDir: string;
  logFile: string;
  /** Started by root: the workers' system account (the masters stay root to read their config). */
  workerUser: string | null;
  /** host:port of the site's public URL: WordPress builds its links and redirects from it. */
  publicHost: string;
  /** The anonymous readers' page cache (see page-cache.ts), or null when the spec turns it off. */
  pageCache: PageCacheSettings | null;
}

/** Where a pod's page cache and its status log live (in its private run folder). */
export function pageCachePaths(pod: Pick<PodFiles, "runDir">): { dir: string; statusLog: string } {
  return { dir: `${pod.runDir}/page-cache`, statusLog: `${pod.runDir}/cache-status.log` };
}

/**
 * FastCGI parameters, written out rather than Debian's fastcgi_params: that file sets HTTP_HOST to
 * the host without its port, which sends WordPress into a redirect loop on any non-default port.
 * HTTP_HOST is the public host:port, whichever pod or address the request reached.
 */
function fastcgiParams(publicHost: string): string[] {
  const params: [string, string][] = [
    ["QUERY_STRING", "$query_string"],
    ["REQUEST_METHOD", "$request_method"],
    ["CONTENT_TYPE", "$content_type"],
    ["CONTENT_LENGTH", "$content_length"],
    ["SCRIPT_NAME", "$fastcgi_script_name"],
    ["REQUEST_URI", "$request_uri"],
    ["DOCUMENT_URI", "$document_uri"],
    ["DOCUMENT_ROOT", "$document_root"],
    ["SERVER_PROTOCOL", "$server_protocol"],
    ["REQUEST_SCHEME", "$scheme"],
    ["GATEWAY_INTERFACE", "CGI/1.1"],
    ["SERVER_SOFTWARE", "nginx"],
    ["REMOTE_ADDR", "$remote_addr"],
    ["REMOTE_PORT", "$remote_port"],
    ["SERVER_ADDR", "$server_addr"],
    ["SERVER_PORT", "$server_port"],
    ["SERVER_NAME", "$server_name"],
    ["REDIRECT_STATUS", "200"],
    ["HTTP_HOST", publicHost],
  ];
  return params.map(([name, value]) => `      fastcgi_param ${name} ${value};`);
}

/** Where a pod's php-fpm listens (nginx passes PHP requests there). */
export function fpmSocketPath(pod: Pick<PodFiles, "runDir">): string {
  return `${pod.runDir}/php-fpm.sock`;
}

/** php-fpm for one pod: a static pool of 4 children on a private Unix socket, its environment passed explicitly. */
export function renderPhpFpmConfig(pod: PodFiles, env: Record<string, string>): string {
  return [
    "; Written by hapress for one WordPress pod.",
    "[global]",
    `pid = ${pod.runDir}/php-fpm.pid`,
    `error_log = ${pod.logFile}`,
    "daemonize = no",
    "",
    `[${pod.podName}]`,
    ...(pod.workerUser
      ? [
          `user = ${pod.workerUser}`,
          `group = ${pod.workerUser}`,
          // nginx's workers run as the same account: only they may talk to PHP.
          `listen.owner = ${pod.workerUser}`,
          `listen.group = ${pod.workerUser}`,
        ]
      : []),
    `listen = ${fpmSocketPath(pod)}`,
    "listen.mode = 0600",
    "pm = static",
    "pm.max_children = 4",
    "pm.max_requests = 1000",
    "catch_workers_output = yes",
    "clear_env = yes",
    ...Object.entries(env).map(([name, value]) => `env[${name}] = ${phpFpmValue(value)}`),
    "php_admin_value[upload_max_filesize] = 32M",
    "php_admin_value[post_max_size] = 34M",
    // PHP hands nginx each page whole at its end instead of 4 KB at a time while it renders: a page is
    // then streamed to the load balancer for microseconds, not for the whole render, so a pod dying
    // mid-response (which no proxy can retry once bytes went out) almost never cuts a reader's page.
    "php_admin_value[output_buffering] = 1048576",
    "",
  ].join("\n");
}

/** nginx for one pod: serves the read-only core, the shared content, and PHP through the pod's php-fpm. */
export function renderNginxConfig(pod: PodFiles): string {
  const php = `unix:${fpmSocketPath(pod)}`;
  return [
    "# Written by hapress for one WordPress pod.",
    ...(pod.workerUser ? [`user ${pod.workerUser} ${pod.workerUser};`] : []),
    "worker_processes 2;",
    `pid ${pod.runDir}/nginx.pid;`,
    `error_log ${pod.logFile} warn;`,
    "events { worker_connections 1024; }",
    "http {",
    "  include /etc/nginx/mime.types;",
    "  default_type application/octet-stream;",
    "  access_log off;",
    "  sendfile on;",
    "  server_tokens off;",
    "  client_max_body_size 32m;",
    `  client_body_temp_path ${pod.runDir}/client_body;`,
    `  fastcgi_temp_path ${pod.runDir}/fastcgi;`,
    // Room for a whole page in memory (see output_buffering in the pool).
    "  fastcgi_buffer_size 32k;",
    "  fastcgi_buffers 16 32k;",
    `  proxy_temp_path ${pod.runDir}/proxy;`,
    `  scgi_temp_path ${pod.runDir}/scgi;`,
    `  uwsgi_temp_path ${pod.runDir}/uwsgi;`,
    ...(pod.pageCache
      ? cacheHttpDirectives("fastcgi", pageCachePaths(pod).dir, refreshTokenMap(pod.pageCache.refreshToken))
      : []),
    "  server {",
    `    listen ${pod.address}:${pod.port};`,
    "    server_name _;",
    `    root ${pod.coreDir};`,
    "    index index.php;",
    "    location = /hapress-health {",
    ...fastcgiParams(pod.publicHost),
    `      fastcgi_param SCRIPT_FILENAME ${pod.coreDir}/hapress-health.php;`,
    `      fastcgi_pass ${php};`,
    "    }",
    // The load balancer's check: nginx and PHP answer, whatever the database does (see ALIVE_PHP).
    "    location = /hapress-alive {",
    ...fastcgiParams(pod.publicHost),
    `      fastcgi_param SCRIPT_FILENAME ${pod.coreDir}/hapress-alive.php;`,
    `      fastcgi_pass ${php};`,
    "    }",
    "    location ~ /\\. { deny all; }",
    "    location = /wp-config.php { deny all; }",
    "    location ~* ^/wp-content/uploads/.*\\.php$ { deny all; }",
    "    location / { try_files $uri $uri/ /index.php?$args; }",
    "    location ~ \\.php$ {",
    "      try_files $uri =404;",
    ...fastcgiParams(pod.publicHost),
    "      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;",
    `      fastcgi_pass ${php};`,
    ...(pod.pageCache
      ? cacheLocationDirectives("fastcgi", pod.pageCache.ttlSeconds, pageCachePaths(pod).statusLog)
      : []),
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
}

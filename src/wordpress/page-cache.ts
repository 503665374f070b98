import { createHmac } from "node:crypto";

/**
 * The page cache for anonymous readers: nginx's fastcgi_cache in each WordPress pod, in front of
 * php-fpm. Why there and not at the load balancer: nginx can serve a stale copy when PHP or the
 * database fails (HAProxy's cache cannot), and each pod keeps answering from its cache through a
 * database failover or a crash of its own php-fpm.
 *
 * Freshness: a short TTL, plus a refresh of the pages a content change affects, in every pod. The
 * refresh needs no purge module: the mu-plugin below requests each affected URL from every pod with
 * a secret header that makes nginx bypass the cache lookup and store the fresh answer in place of
 * the old one (a 404 replaces a deleted post's page the same way).
 */
export interface PageCacheSettings {
  ttlSeconds: number;
  /** The value of X-Hapress-Cache-Refresh that makes nginx render a page anew and store it. */
  refreshToken: string;
}

/** The response header that says what the cache did: HIT, MISS, EXPIRED, STALE, UPDATING, BYPASS. */
export const CACHE_STATUS_HEADER = "X-Hapress-Cache";
export const REFRESH_HEADER = "X-Hapress-Cache-Refresh";
/** A stale page is kept (and served while PHP or the database fails) until unused for this long. */
const KEEP_UNUSED = "10m";

/** Derived from a site secret, so it exists for old sites too and is never stored on its own. */
export function cacheRefreshToken(secret: string): string {
  return createHmac("sha256", secret).update("hapress page cache refresh").digest("hex");
}

/** Cookies that mark a reader whose pages are their own: logged in, commenter, protected post, a cart. */
const PRIVATE_COOKIES =
  "wordpress_logged_in_|wordpress_sec_|wordpress_no_cache|comment_author_|wp-postpass_|woocommerce_|wp_woocommerce_session_";
/** Never cached: the admin, login, cron, XML-RPC, and hapress's own endpoints. */
const PRIVATE_PATHS = "^/(wp-admin|wp-login\\.php|wp-cron\\.php|xmlrpc\\.php|wp-signup\\.php|hapress-)";

/**
 * How nginx reaches WordPress: php-fpm over FastCGI (local pods), or the web server of the official
 * image over HTTP (Kubernetes, a cache container beside it). The cache directives are the same with
 * the module's prefix.
 */
export type CacheModule = "fastcgi" | "proxy";

/** The map that recognises the refresh token (on Kubernetes it comes from the Secret, as a file). */
export function refreshTokenMap(refreshToken: string): string {
  return `map $http_${headerVariable(REFRESH_HEADER)} $hapress_refresh { default 0; "${refreshToken}" 1; }`;
}

/**
 * Lines for nginx's http block: the cache zone, and what makes a request skip it. `refreshMap` is the
 * token's map, or an include of the file that holds it.
 */
export function cacheHttpDirectives(module: CacheModule, cacheDir: string, refreshMap: string): string[] {
  return [
    // Room for the 64-character token as a map key (before the first map: the default buckets hold 32).
    "  map_hash_bucket_size 128;",
    `  ${module}_cache_path ${cacheDir} levels=1:2 keys_zone=hapress_pages:8m max_size=256m inactive=${KEEP_UNUSED} use_temp_path=off;`,
    `  map $http_cookie $hapress_private_cookie { default 0; "~*(${PRIVATE_COOKIES})" 1; }`,
    // The URI as asked: after try_files, $uri would be /index.php for every pretty URL.
    `  map $request_uri $hapress_private_path { default 0; "~${PRIVATE_PATHS}" 1; }`,
    // Only GET is cached: HEAD would store an empty body under the same key (php-fpm has no HEAD-to-GET).
    "  map $request_method $hapress_uncached_method { default 1; GET 0; }",
    `  ${refreshMap}`,
    "  log_format hapress_cache_status '$upstream_cache_status';",
  ];
}

/** Lines for the location that passes requests to WordPress. `statusLog`: null logs nothing. */
export function cacheLocationDirectives(
  module: CacheModule,
  ttlSeconds: number,
  statusLog: string | null,
): string[] {
  // Any of these non-empty and not "0": the request neither reads nor fills the cache (a query string,
  // credentials, a private cookie or path, a method other than GET).
  const skip =
    "$hapress_private_cookie $hapress_private_path $hapress_uncached_method $http_authorization $args";
  // Over HTTP, a dead web server is a 502 or 504 from nginx itself: stale too.
  const failures = module === "proxy" ? "http_500 http_502 http_503 http_504" : "http_500 http_503";
  return [
    `      ${module}_cache hapress_pages;`,
    `      ${module}_cache_key "$http_host$request_uri";`,
    `      ${module}_cache_bypass ${skip} $hapress_refresh;`,
    `      ${module}_no_cache ${skip};`,
    `      ${module}_cache_valid 200 301 404 ${ttlSeconds}s;`,
    // Serve the last good copy while PHP or the database fails (a failover, a crashed php-fpm).
    `      ${module}_cache_use_stale error timeout invalid_header updating ${failures};`,
    `      ${module}_cache_background_update on;`,
    `      ${module}_cache_lock on;`,
    `      ${module}_cache_lock_timeout 5s;`,
    `      add_header ${CACHE_STATUS_HEADER} $upstream_cache_status always;`,
    // One word per PHP request (HIT, MISS…) for the supervisor to count in `status` (here, not in
    // the http block, whose access_log is off).
    ...(statusLog
      ? [`      access_log ${statusLog} hapress_cache_status buffer=4k flush=1s if=$upstream_cache_status;`]
      : []),
  ];
}

/**
 * The nginx of a WordPress pod's cache container on Kubernetes: listens on `port`, passes everything
 * to the official image's Apache in the same pod (127.0.0.1:80) through the cache. Runs as the pod's unprivileged
 * user with a read-only root filesystem: its writable paths are an emptyDir at `workDir`.
 */
export function renderCacheProxyConfig(input: {
  port: number;
  ttlSeconds: number;
  workDir: string;
  refreshMapFile: string;
  /** How long a client's kept-alive connection may last (nginx's keepalive_time). */
  keepaliveSeconds: number;
}): string {
  const work = input.workDir;
  return [
    "# Written by hapress: the page cache in front of WordPress (see hapress's README, Page cache).",
    "worker_processes 2;",
    `pid ${work}/nginx.pid;`,
    "error_log stderr warn;",
    "events { worker_connections 1024; }",
    "http {",
    "  access_log off;",
    "  server_tokens off;",
    "  client_max_body_size 32m;",
    // A kept-alive connection is answered "Connection: close" once this old, so every client opens a
    // new one now and then, which reaches a pod still in the Service (see wordpress.ts, DRAIN_SECONDS).
    `  keepalive_time ${input.keepaliveSeconds}s;`,
    `  client_body_temp_path ${work}/client_body;`,
    `  proxy_temp_path ${work}/proxy;`,
    `  fastcgi_temp_path ${work}/fastcgi;`,
    `  scgi_temp_path ${work}/scgi;`,
    `  uwsgi_temp_path ${work}/uwsgi;`,
    ...cacheHttpDirectives("proxy", `${work}/pages`, `include ${input.refreshMapFile};`),
    "  server {",
    `    listen ${input.port};`,
    // The container's liveness: nginx itself answers (Apache and the database may be down).
    '    location = /hapress-cache-alive { return 200 "alive\\n"; }',
    "    location / {",
    // One address, not `localhost` (::1 and 127.0.0.1: two servers to nginx). A lone server is never
    // marked unavailable; of two, each worker marks both down for 10 s after one refused connection,
    // and nginx starts before Apache: a new pod answered 502 for seconds after it became ready.
    "      proxy_pass http://127.0.0.1:80;",
    "      proxy_http_version 1.1;",
    '      proxy_set_header Connection "";',
    "      proxy_set_header Host $http_host;",
    "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "      proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;",
    "      proxy_buffers 16 32k;",
    ...cacheLocationDirectives("proxy", input.ttlSeconds, null),
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** nginx names a request header's variable in lower case with dashes as underscores. */
function headerVariable(header: string): string {
  return header.toLowerCase().replace(/-/g, "_");
}

/** Counts of what the cache did, from the pods' status logs. */
export interface CacheCounts {
  hit: number;
  stale: number;
  miss: number;
  bypass: number;
}

export function emptyCacheCounts(): CacheCounts {
  return { hit: 0, stale: 0, miss: 0, bypass: 0 };
}

/** Adds the words of a status log to `counts` (EXPIRED and UPDATING count as a miss and a stale). */
export function countCacheStatuses(text: string, counts: CacheCounts): CacheCounts {
  const next = { ...counts };
  for (const word of text.split("\n")) {
    if (word === "HIT") next.hit++;
    else if (word === "STALE" || word === "UPDATING") next.stale++;
    else if (word === "MISS" || word === "EXPIRED" || word === "REVALIDATED") next.miss++;
    else if (word === "BYPASS") next.bypass++;
  }
  return next;
}

/** Share of cacheable requests answered from the cache (HIT or STALE), or null before any. */
export function hitRatio(counts: CacheCounts): number | null {
  const cacheable = counts.hit + counts.stale + counts.miss;
  return cacheable === 0 ? null : Math.round(((counts.hit + counts.stale) / cacheable) * 1000) / 1000;
}

/**
 * The mu-plugin that refreshes, in every pod, the pages a change affects: the home page, the post,
 * its archives (terms, author, post type) and feeds, after a post is published, updated, unpublished
 * or trashed, or a comment on it appears. URLs with a query string are never cached, so skipped.
 * Peers come from a file the supervisor writes (local) or from DNS (a headless Service).
 */
export const CACHE_REFRESH_MU_PLUGIN = `<?php
/*
 * Plugin Name: hapress page cache refresh
 * Description: Written by hapress at every start. Refreshes the pages a content change affects in every WordPress pod's cache.
 */
if (!defined('ABSPATH')) {
  exit;
}

function hapress_cache_token() {
  $token = getenv('HAPRESS_CACHE_REFRESH_TOKEN');
  $file = getenv('HAPRESS_CACHE_REFRESH_TOKEN_FILE');
  if (!$token && $file && is_readable($file)) {
    $token = trim((string) file_get_contents($file));
  }
  return $token;
}

function hapress_cache_peers() {
  $file = getenv('HAPRESS_CACHE_PEERS_FILE');
  if ($file && is_readable($file)) {
    $peers = json_decode((string) file_get_contents($file), true);
    return is_array($peers) ? $peers : array();
  }
  $name = getenv('HAPRESS_CACHE_PEERS_DNS');
  if ($name) {
    $ips = gethostbynamel($name);
    $port = getenv('HAPRESS_CACHE_PEERS_PORT') ?: '80';
    return $ips ? array_map(function ($ip) use ($port) { return $ip . ':' . $port; }, $ips) : array();
  }
  return array();
}

$GLOBALS['hapress_refresh_urls'] = array();

function hapress_queue_post($post) {
  $post = get_post($post);
  if (!$post || wp_is_post_revision($post) || wp_is_post_autosave($post)) {
    return;
  }
  $urls = array(home_url('/'), get_feed_link(), get_permalink($post), get_post_comments_feed_link($post->ID),
    get_author_posts_url($post->post_author), get_post_type_archive_link($post->post_type));
  foreach (get_object_taxonomies($post->post_type) as $taxonomy) {
    $terms = get_the_terms($post, $taxonomy);
    if (is_array($terms)) {
      foreach ($terms as $term) {
        $urls[] = get_term_link($term);
      }
    }
  }
  foreach ($urls as $url) {
    if (is_string($url) && $url !== '') {
      $GLOBALS['hapress_refresh_urls'][$url] = true;
    }
  }
}

add_action('transition_post_status', function ($new_status, $old_status, $post) {
  if ($new_status === 'publish' || $old_status === 'publish') {
    hapress_queue_post($post);
  }
}, 10, 3);
add_action('comment_post', function ($comment_id) {
  $comment = get_comment($comment_id);
  if ($comment) {
    hapress_queue_post($comment->comment_post_ID);
  }
});
add_action('transition_comment_status', function ($new_status, $old_status, $comment) {
  hapress_queue_post($comment->comment_post_ID);
}, 10, 3);

// Before the response goes out: when the author's request returns, every pod already serves the change.
add_action('shutdown', function () {
  $urls = array_keys($GLOBALS['hapress_refresh_urls']);
  $token = hapress_cache_token();
  if (!$urls || !$token) {
    return;
  }
  $home = wp_parse_url(home_url('/'));
  $host = $home['host'] . (isset($home['port']) ? ':' . $home['port'] : '');
  $requests = array();
  foreach (hapress_cache_peers() as $peer) {
    foreach ($urls as $url) {
      $parts = wp_parse_url($url);
      if (!empty($parts['query'])) {
        continue;
      }
      $requests[] = array('url' => 'http://' . $peer . ($parts['path'] ?? '/'), 'type' => 'GET',
        'headers' => array('Host' => $host, '${REFRESH_HEADER}' => $token));
    }
  }
  if (!$requests) {
    return;
  }
  $options = array('timeout' => 10, 'connect_timeout' => 2, 'follow_redirects' => false);
  if (class_exists('\\\\WpOrg\\\\Requests\\\\Requests')) {
    \\WpOrg\\Requests\\Requests::request_multiple($requests, $options);
  } elseif (class_exists('Requests')) {
    Requests::request_multiple($requests, $options);
  }
}, 0);
`;

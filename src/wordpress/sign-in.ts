import { HapressError } from "../errors.js";

// Signing in to WordPress as a browser does, for what only a signed-in user may do (the REST API's
// writes): the chaos author, and the tests that act as the site's administrator.

/** The cookies of a Set-Cookie list as one Cookie header (names and values only). */
export function cookieHeader(setCookies: readonly string[]): string {
  return setCookies
    .map((line) => line.split(";")[0]?.trim() ?? "")
    .filter((pair) => pair.includes("=") && !/=deleted$/.test(pair))
    .join("; ");
}

/**
 * Signs in through wp-login.php and returns the Cookie header that carries the session; a refusal
 * (wrong password, an unknown user) is a HapressError naming the user and WordPress's answer.
 */
export async function signIn(
  siteUrl: URL,
  user: string,
  password: string,
  timeoutMs = 10_000,
): Promise<string> {
  const login = await fetch(new URL("/wp-login.php", siteUrl), {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie: "wordpress_test_cookie=WP%20Cookie%20check",
    },
    body: new URLSearchParams({ log: user, pwd: password, testcookie: "1" }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await login.arrayBuffer();
  const cookie = cookieHeader(login.headers.getSetCookie());
  if (login.status !== 302 || !/wordpress_logged_in_/.test(cookie))
    throw new HapressError(`WordPress refused the sign-in of '${user}' (HTTP ${login.status})`);
  return cookie;
}

/**
 * A REST nonce for the signed-in session, as the block editor takes one: sent as `X-WP-Nonce` with
 * the cookie, it lets the REST API act as that user.
 */
export async function restNonce(siteUrl: URL, cookie: string, timeoutMs = 10_000): Promise<string> {
  const response = await fetch(new URL("/wp-admin/admin-ajax.php?action=rest-nonce", siteUrl), {
    headers: { cookie },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const nonce = (await response.text()).trim();
  if (response.status !== 200 || !/^[0-9a-f]{10}$/.test(nonce))
    throw new HapressError(`WordPress gave no REST nonce (HTTP ${response.status})`);
  return nonce;
}

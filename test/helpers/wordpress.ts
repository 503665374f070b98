import assert from "node:assert/strict";

/** A browser's cookies, by name. */
export type Jar = Map<string, string>;

export function cookieHeader(jar: Jar): string {
  return [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
}

export function keepCookies(jar: Jar, response: Response): void {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const index = pair?.indexOf("=") ?? -1;
    if (pair && index > 0) jar.set(pair.slice(0, index), pair.slice(index + 1));
  }
}

/** Logs in through wp-login.php on `base` (a pod or the load balancer); returns the cookies. */
export async function login(base: string, user: string, password: string): Promise<Jar> {
  const jar: Jar = new Map([["wordpress_test_cookie", "WP%20Cookie%20check"]]);
  const response = await fetch(`${base}/wp-login.php`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookieHeader(jar) },
    body: new URLSearchParams({
      log: user,
      pwd: password,
      "wp-submit": "Log In",
      redirect_to: `${base}/wp-admin/`,
      testcookie: "1",
    }),
  });
  await response.arrayBuffer();
  assert.equal(response.status, 302, `login on ${base} redirects`);
  keepCookies(jar, response);
  assert.ok(
    [...jar.keys()].some((k) => k.startsWith("wordpress_logged_in_")),
    "a login cookie was set",
  );
  return jar;
}

export async function restNonce(base: string, jar: Jar): Promise<string> {
  const response = await fetch(`${base}/wp-admin/admin-ajax.php?action=rest-nonce`, {
    headers: { cookie: cookieHeader(jar) },
  });
  const nonce = (await response.text()).trim();
  assert.match(nonce, /^[0-9a-f]{10}$/, "a REST nonce for the logged-in user");
  return nonce;
}

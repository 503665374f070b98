import assert from "node:assert/strict";
import { restNonce as productRestNonce, signIn } from "../../src/wordpress/sign-in.js";

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

/** Signs in on `base` (a pod or the load balancer) with the product's sign-in; returns the cookies. */
export async function login(base: string, user: string, password: string): Promise<Jar> {
  const jar: Jar = new Map();
  for (const pair of (await signIn(new URL(base), user, password)).split("; ")) {
    const index = pair.indexOf("=");
    if (index > 0) jar.set(pair.slice(0, index), pair.slice(index + 1));
  }
  assert.ok(
    [...jar.keys()].some((k) => k.startsWith("wordpress_logged_in_")),
    "a login cookie was set",
  );
  return jar;
}

/** A REST nonce for the signed-in user (the product's, as the chaos author takes it). */
export function restNonce(base: string, jar: Jar): Promise<string> {
  return productRestNonce(new URL(base), cookieHeader(jar));
}

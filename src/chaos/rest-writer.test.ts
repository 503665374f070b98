import assert from "node:assert/strict";
import { test } from "node:test";
import { cookieHeader } from "../wordpress/sign-in.js";

test("the Cookie header keeps each cookie's name and value, not its attributes nor deleted ones", () => {
  assert.equal(
    cookieHeader([
      "wordpress_test_cookie=WP%20Cookie%20check; path=/",
      "wordpress_abc=admin%7C1; path=/wp-admin; HttpOnly",
      "wordpress_logged_in_abc=admin%7C2; path=/; HttpOnly",
      "wp-settings-1=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT",
    ]),
    "wordpress_test_cookie=WP%20Cookie%20check; wordpress_abc=admin%7C1; wordpress_logged_in_abc=admin%7C2",
  );
  assert.equal(cookieHeader([]), "");
});

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A file shipped with hapress beside its code (deploy/…), found from this module's place: src/util
 * under tsx, dist/src/util once built. The package root is the first folder up that holds
 * package.json.
 */
export function packageFile(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    if (existsSync(join(dir, "package.json"))) return join(dir, relative);
    dir = dirname(dir);
  }
  throw new Error(
    `hapress's package root (with package.json) not found above ${fileURLToPath(import.meta.url)}`,
  );
}

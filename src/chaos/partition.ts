import { existsSync } from "node:fs";
import { join } from "node:path";
import { runProgramChecked } from "../util/process.js";
import { SYSTEM_PROGRAM_DIRS } from "../util/system-path.js";

/** The nftables table chaos owns: created for a partition, deleted when it heals (and before each). */
export const PARTITION_TABLE = "hapress_chaos";

const IPV4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * The nftables script that cuts `isolated` off from every address but `reachableFrom` (pure). Both
 * directions are dropped in the output hook, which every loopback packet crosses: established
 * sessions go silent (as on a cut cable), new ones time out. Loopback addresses only, checked.
 */
export function partitionScript(isolated: string, reachableFrom: string[]): string {
  for (const address of [isolated, ...reachableFrom])
    if (!IPV4.test(address)) throw new Error(`not a loopback address: '${address}' (example: 127.78.59.10)`);
  if (reachableFrom.length === 0) throw new Error("a partition needs at least one address left reaching it");
  const allowed = `{ ${reachableFrom.join(", ")} }`;
  return [
    `table ip ${PARTITION_TABLE} {`,
    "  chain output {",
    "    type filter hook output priority 0; policy accept;",
    `    ip daddr ${isolated} ip saddr != ${allowed} drop`,
    `    ip saddr ${isolated} ip daddr != ${allowed} drop`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Why packets cannot be filtered here, or null: root and the `nft` program are needed. */
export function partitionUnsupported(): string | null {
  if (process.getuid?.() !== 0) return "needs root to filter packets (run as root, e.g. with sudo)";
  if (!nftProgram())
    return "needs the nft program (Debian package nftables: bash scripts/install.sh --for-tests)";
  return null;
}

function nftProgram(): string | null {
  return SYSTEM_PROGRAM_DIRS.map((dir) => join(dir, "nft")).find((path) => existsSync(path)) ?? null;
}

/** Removes the table if it is there (a partition left by an interrupted run included). */
export async function healPartition(): Promise<void> {
  const nft = nftProgram();
  if (!nft) return;
  const listed = await runProgramChecked(nft, ["list", "tables"], { timeoutMs: 10_000 });
  if (listed.stdout.includes(`table ip ${PARTITION_TABLE}`))
    await runProgramChecked(nft, ["delete", "table", "ip", PARTITION_TABLE], { timeoutMs: 10_000 });
}

/** Applies the partition; returns how to heal it. */
export async function applyPartition(
  isolated: string,
  reachableFrom: string[],
): Promise<() => Promise<void>> {
  const nft = nftProgram();
  if (!nft) throw new Error(partitionUnsupported() ?? "nft not found");
  await healPartition();
  await runProgramChecked(nft, ["-f", "-"], {
    input: partitionScript(isolated, reachableFrom),
    timeoutMs: 10_000,
  });
  return healPartition;
}

import { createHash } from "node:crypto";
import { join } from "node:path";

/**
 * A systemd unit that runs one site's supervisor as a service: started at boot, restarted when it
 * crashes. The site's processes survive a crash of the supervisor (KillMode=process) and the next
 * supervisor adopts them, so a restart by systemd costs no outage. Pure: rendering only.
 */
export interface ServiceUnitInput {
  siteName: string;
  stateDir: string;
  /** How to run hapress: node, its flags, the CLI script. */
  command: string;
  args: string[];
  /** A system unit (run as root) or a user unit (an ordinary user's systemd --user). */
  system: boolean;
  /** The PATH the site's programs are found in (mariadbd, nginx, php-fpm, haproxy). */
  path: string;
}

/** Unique per state folder: two sites may share a name in different folders. */
export function serviceUnitName(siteName: string, stateDir: string): string {
  const hash = createHash("sha256").update(stateDir).digest("hex").slice(0, 8);
  return `hapress-${siteName}-${hash}.service`;
}

/** Where systemd looks for the unit: /etc/systemd/system, or the user's ~/.config/systemd/user. */
export function serviceUnitDir(system: boolean, home: string): string {
  return system ? "/etc/systemd/system" : join(home, ".config", "systemd", "user");
}

/**
 * One argument of a command line as systemd reads it: specifiers (%) and variables ($) escaped, and
 * quoted when it holds anything but plain path characters.
 */
export function systemdArgument(value: string): string {
  const escaped = value.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export function renderServiceUnit(input: ServiceUnitInput): string {
  const hapress = [input.command, ...input.args].map(systemdArgument).join(" ");
  const dir = systemdArgument(input.stateDir);
  return [
    `# Written by 'hapress service install' for the site '${input.siteName}' in ${input.stateDir}.`,
    "[Unit]",
    `Description=hapress site ${input.siteName} (${input.stateDir.replace(/%/g, "%%")})`,
    ...(input.system ? ["After=network-online.target", "Wants=network-online.target"] : []),
    "",
    "[Service]",
    // Ready only once the site answers: the supervisor tells systemd through systemd-notify.
    "Type=notify",
    "NotifyAccess=all",
    `Environment=${systemdArgument(`PATH=${input.path}`)}`,
    `ExecStart=${hapress} --dir ${dir} supervise`,
    // SIGTERM to the supervisor alone: it stops every process of the site in order, then exits 0.
    // On a crash, the site's processes keep running and the restarted supervisor adopts them.
    "KillMode=process",
    "Restart=on-failure",
    "RestartSec=1s",
    "TimeoutStartSec=600",
    "TimeoutStopSec=180",
    "",
    "[Install]",
    `WantedBy=${input.system ? "multi-user.target" : "default.target"}`,
    "",
  ].join("\n");
}

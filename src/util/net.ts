import { isIPv4 } from "node:net";

/**
 * True only for a literal IPv4 address in 127.0.0.0/8. A name (even "127.evil.example") is not:
 * it would go to DNS, and loopback must stay loopback.
 */
export function isLoopbackIPv4Literal(text: string): boolean {
  return isIPv4(text) && text.split(".")[0] === "127";
}

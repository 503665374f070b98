/** One MariaDB GTID: domain-server-sequence. A position lists at most one GTID per domain. */
export interface Gtid {
  domain: number;
  server: number;
  seq: number;
}

/** Parses "0-100-57,1-101-3" (empty string: no transactions). */
export function parseGtidPosition(text: string): Map<number, Gtid> {
  const position = new Map<number, Gtid>();
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^(\d+)-(\d+)-(\d+)$/.exec(part);
    if (!match) throw new Error(`not a GTID: '${part}'`);
    const gtid = { domain: Number(match[1]), server: Number(match[2]), seq: Number(match[3]) };
    position.set(gtid.domain, gtid);
  }
  return position;
}

/** Total of sequence numbers over all domains: a simple, monotonic measure of progress. */
export function gtidProgress(text: string): number {
  let total = 0;
  for (const gtid of parseGtidPosition(text).values()) total += gtid.seq;
  return total;
}

/**
 * True when `candidate` holds a transaction that `reference` does not: a higher sequence in some
 * domain, or the same sequence written by another server (a divergent history).
 */
export function hasErrantTransactions(candidate: string, reference: string): boolean {
  const ref = parseGtidPosition(reference);
  for (const gtid of parseGtidPosition(candidate).values()) {
    const other = ref.get(gtid.domain);
    if (!other) return gtid.seq > 0;
    if (gtid.seq > other.seq) return true;
    if (gtid.seq === other.seq && gtid.server !== other.server) return true;
  }
  return false;
}

/** True when `a` has at least everything `b` has, domain by domain. */
export function gtidContains(a: string, b: string): boolean {
  const left = parseGtidPosition(a);
  for (const gtid of parseGtidPosition(b).values()) {
    const other = left.get(gtid.domain);
    if (!other || other.seq < gtid.seq) return false;
  }
  return true;
}

/**
 * Framing of the backup stream, so a receiver can tell a complete stream from a cut one:
 * data frames are a 4-byte big-endian length and the bytes; the stream ends with a zero length
 * followed by one status byte (0 = the donor's backup succeeded).
 */
export function encodeDataFrame(payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length, 0);
  return Buffer.concat([header, payload]);
}

export function encodeEndFrame(status: number): Buffer {
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(0, 0);
  frame.writeUInt8(status & 0xff, 4);
  return frame;
}

export type FrameEvent = { kind: "data"; payload: Buffer } | { kind: "end"; status: number };

/**
 * The longest data frame a receiver accepts. A donor sends what mariadb-backup writes (64 KiB
 * chunks); a length beyond this is a broken or hostile peer, and buffering it would exhaust memory.
 */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Incremental decoder: feed it chunks as they arrive, it returns whole frames. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  push(chunk: Buffer): FrameEvent[] {
    if (this.ended) throw new Error("data after the end of the backup stream");
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const events: FrameEvent[] = [];
    for (;;) {
      if (this.pending.length < 4) break;
      const length = this.pending.readUInt32BE(0);
      if (length === 0) {
        if (this.pending.length < 5) break;
        events.push({ kind: "end", status: this.pending.readUInt8(4) });
        this.ended = true;
        if (this.pending.length > 5) throw new Error("data after the end of the backup stream");
        this.pending = Buffer.alloc(0);
        break;
      }
      if (length > MAX_FRAME_BYTES)
        throw new Error(
          `a frame of ${length} bytes exceeds the maximum of ${MAX_FRAME_BYTES}: not a backup stream`,
        );
      if (this.pending.length < 4 + length) break;
      events.push({ kind: "data", payload: this.pending.subarray(4, 4 + length) });
      this.pending = this.pending.subarray(4 + length);
    }
    return events;
  }

  get complete(): boolean {
    return this.ended;
  }
}

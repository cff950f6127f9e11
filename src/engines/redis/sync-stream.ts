/**
 * The answer of a Redis server to SYNC, as redis-cli --rdb reads it: any number of "\n"
 * keep-alives while the snapshot is being prepared, then one header line, then the RDB:
 *   `$<length>\r\n` and exactly that many bytes (a snapshot saved to disk first), or
 *   `$EOF:<40 bytes>\r\n`, the RDB, and the same 40 bytes again (a diskless transfer, whose
 *   length is not known in advance).
 * Pure: bytes in, payload bytes out, so every malformed or truncated answer can be tested.
 */
import { RespError, RespProtocolError } from './resp.js';

export const EOF_MARK_LENGTH = 40;
/** A header longer than this is not one (redis-cli reads it into a 4 KiB buffer). */
export const MAX_HEADER = 512;

export class SyncPayloadReader {
  private state: 'header' | 'length' | 'eof' | 'done' = 'header';
  private header = '';
  private remaining = 0;
  private mark: Buffer = Buffer.alloc(0);
  /** In EOF mode: the last bytes seen, held back until it is known whether they are the mark. */
  private tail: Buffer = Buffer.alloc(0);
  private got = 0;

  /** True once the whole payload was returned. */
  get done(): boolean {
    return this.state === 'done';
  }

  /** How the payload is delimited, once the header was read. */
  get framing(): 'length' | 'eof' | undefined {
    return this.state === 'header' ? undefined : this.mark.length ? 'eof' : 'length';
  }

  /** Payload bytes received so far. */
  get received(): number {
    return this.got;
  }

  /** Feeds bytes of the answer; returns the payload bytes in them. Bytes after the payload are not returned. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let rest = chunk;
    if (this.state === 'header') {
      let i = 0;
      for (; i < rest.length; i++) {
        const b = rest[i]!;
        if (b === 0x0a) {
          if (this.header === '') continue; // a keep-alive
          this.startPayload(this.header.endsWith('\r') ? this.header.slice(0, -1) : this.header);
          i++;
          break;
        }
        this.header += String.fromCharCode(b);
        if (this.header.length > MAX_HEADER) throw new RespProtocolError(`the answer to SYNC has no header line within ${MAX_HEADER} bytes`);
      }
      if (this.state === 'header') return out;
      rest = rest.subarray(i);
    }
    if (this.state === 'length') {
      const take = Math.min(rest.length, this.remaining);
      if (take) out.push(rest.subarray(0, take));
      this.remaining -= take;
      this.got += take;
      if (this.remaining === 0) this.state = 'done';
    } else if (this.state === 'eof' && rest.length) {
      // hold the last 40 bytes back: the stream ends when the bytes so far end with the mark
      let joined = rest;
      if (rest.length >= EOF_MARK_LENGTH) {
        // the mark, if it ends here, lies wholly in this chunk: what was held back is payload
        if (this.tail.length) out.push(this.tail);
        this.got += this.tail.length;
      } else if (this.tail.length) {
        joined = Buffer.concat([this.tail, rest]);
      }
      const keep = Math.min(EOF_MARK_LENGTH, joined.length);
      const body = joined.subarray(0, joined.length - keep);
      if (body.length) {
        out.push(body);
        this.got += body.length;
      }
      this.tail = joined.subarray(joined.length - keep);
      if (this.tail.length === EOF_MARK_LENGTH && this.tail.equals(this.mark)) {
        this.tail = Buffer.alloc(0);
        this.state = 'done';
      }
    }
    return out;
  }

  /** Called when the connection ended: the payload must be complete by then. */
  end(): void {
    if (this.state === 'done') return;
    if (this.state === 'header') throw new RespProtocolError(this.header ? `the answer to SYNC ended inside its header "${this.header.slice(0, 60)}"` : 'the server closed the connection before it sent the snapshot');
    if (this.state === 'length') throw new RespProtocolError(`the snapshot was cut off after ${this.got} of ${this.got + this.remaining} bytes`);
    throw new RespProtocolError(`the snapshot was cut off after ${this.got + this.tail.length} bytes, before its end mark`);
  }

  private startPayload(line: string): void {
    if (line.startsWith('-')) throw new RespError(line.slice(1));
    if (line.startsWith('$EOF:')) {
      const mark = Buffer.from(line.slice(5), 'latin1');
      if (mark.length !== EOF_MARK_LENGTH) throw new RespProtocolError(`the EOF mark of the answer to SYNC has ${mark.length} bytes, not ${EOF_MARK_LENGTH}`);
      this.mark = mark;
      this.state = 'eof';
      return;
    }
    const m = /^\$(\d{1,16})$/.exec(line);
    if (!m) throw new RespProtocolError(`the answer to SYNC starts with "${line.slice(0, 60)}", not a snapshot length`);
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n)) throw new RespProtocolError(`the snapshot length ${m[1]} is too large`);
    this.remaining = n;
    this.state = n === 0 ? 'done' : 'length';
  }
}

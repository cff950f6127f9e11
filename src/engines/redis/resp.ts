/**
 * A small RESP2 client: one connection to 127.0.0.1 (TCP, TLS pinned to a CA, or a Unix socket),
 * commands written as they come and answered in order. It replaces the node-redis driver for the
 * tool's own connections: loading that driver alone cost more than 100 ms of every Redis command
 * (issue 14), and a backup also needs the raw socket once SYNC is sent, which a driver does not
 * hand over. Replies are parsed with hard limits, as they come from a network peer.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** An error reply of the server (`-ERR ...`, `-WRONGPASS ...`): the message is its text. */
export class RespError extends Error {
  override name = 'RespError';
}

/** A reply that does not follow RESP2: the peer is not a Redis server, or the stream is damaged. */
export class RespProtocolError extends Error {
  override name = 'RespProtocolError';
}

/** Redis's own proto-max-bulk-len default: no reply string of the tool's commands is longer. */
export const MAX_BULK = 512 * 1024 * 1024;
/** A status, error or integer line, or a length header, longer than this is not RESP. */
export const MAX_LINE = 64 * 1024;
export const MAX_ARRAY = 1 << 27;
export const MAX_DEPTH = 64;

const INCOMPLETE = Symbol('incomplete');

/** An array header was read: its elements follow. */
const OPENED = Symbol('opened');

/**
 * Parses replies out of the bytes as they arrive, one element at a time: the arrays being filled
 * wait on a stack, so a long reply (a big LRANGE) is parsed once however many chunks it comes
 * in, and a long bulk string says how many bytes it needs before it is looked at again.
 */
export class ReplyParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  /** Bytes (from `pos`) the element being waited for needs at least. */
  private need = 0;
  private readonly stack: { items: unknown[]; left: number }[] = [];

  feed(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.chunkBytes += chunk.length;
  }

  /** The next complete reply (a RespError for an error reply), or `undefined` when it has not all arrived. */
  next(): { value: unknown } | undefined {
    for (;;) {
      if (this.buf.length - this.pos + this.chunkBytes < this.need) return undefined;
      if (this.chunks.length) {
        const rest = this.buf.subarray(this.pos);
        this.buf = rest.length || this.chunks.length > 1 ? Buffer.concat([rest, ...this.chunks]) : this.chunks[0]!;
        this.pos = 0;
        this.chunks = [];
        this.chunkBytes = 0;
      }
      const start = this.pos;
      this.need = 0;
      let value = this.element();
      if (value === INCOMPLETE) {
        this.need = this.need ? this.need - start : 0;
        this.pos = start;
        return undefined;
      }
      if (value === OPENED) continue;
      // a finished element fills its array; a full array is an element of the one around it
      for (;;) {
        const top = this.stack[this.stack.length - 1];
        if (!top) return { value };
        top.items.push(value);
        if (--top.left > 0) break;
        this.stack.pop();
        value = top.items;
      }
    }
  }

  /** The bytes received after the last reply taken (what follows a reply to SYNC). */
  rest(): Buffer {
    return Buffer.concat([this.buf.subarray(this.pos), ...this.chunks]);
  }

  private line(): string | typeof INCOMPLETE {
    const end = this.buf.indexOf('\r\n', this.pos, 'latin1');
    if (end < 0) {
      if (this.buf.length - this.pos > MAX_LINE) throw new RespProtocolError(`a reply line is longer than ${MAX_LINE} bytes`);
      return INCOMPLETE;
    }
    if (end - this.pos > MAX_LINE) throw new RespProtocolError(`a reply line is longer than ${MAX_LINE} bytes`);
    const text = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 2;
    return text;
  }

  private length(text: string, max: number, what: string): number {
    if (!/^(-1|\d{1,12})$/.test(text)) throw new RespProtocolError(`bad ${what} length "${text.slice(0, 40)}"`);
    const n = Number(text);
    if (n > max) throw new RespProtocolError(`${what} length ${n} is over the limit of ${max}`);
    return n;
  }

  /** One element at `pos`: a value, OPENED (an array of elements to come), or INCOMPLETE. */
  private element(): unknown {
    if (this.pos >= this.buf.length) return INCOMPLETE;
    const at = this.pos;
    const type = this.buf[at]!;
    this.pos++;
    const text = this.line();
    if (text === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case 0x2b: // +
        return text;
      case 0x2d: // -  (inside an array, as EXEC and scripts give it, a value there)
        return new RespError(text);
      case 0x3a: // :
        if (!/^-?\d{1,20}$/.test(text)) throw new RespProtocolError(`bad integer reply "${text.slice(0, 40)}"`);
        return Number(text);
      case 0x24: {
        // $
        const n = this.length(text, MAX_BULK, 'bulk string');
        if (n < 0) return null;
        if (this.buf.length - this.pos < n + 2) {
          this.need = this.pos + n + 2;
          return INCOMPLETE;
        }
        if (this.buf[this.pos + n] !== 0x0d || this.buf[this.pos + n + 1] !== 0x0a) throw new RespProtocolError('a bulk string does not end where its length says');
        const s = this.buf.toString('utf8', this.pos, this.pos + n);
        this.pos += n + 2;
        return s;
      }
      case 0x2a: {
        // *
        const n = this.length(text, MAX_ARRAY, 'array');
        if (n < 0) return null;
        if (n === 0) return [];
        if (this.stack.length >= MAX_DEPTH) throw new RespProtocolError(`replies nested deeper than ${MAX_DEPTH}`);
        this.stack.push({ items: [], left: n });
        return OPENED;
      }
      default:
        throw new RespProtocolError(`unexpected reply type byte 0x${type.toString(16).padStart(2, '0')}`);
    }
  }
}

/** The command as RESP2 writes it: an array of bulk strings. */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a, 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * TCP to 127.0.0.1:port (with `ca`, the PEM of the instance's self-signed certificate: TLS,
 * verified, identity checked against 127.0.0.1), or a Unix socket.
 */
export type RespTarget = ({ port: number; ca?: string } | { path: string }) & { connectTimeoutMs: number };

/** Errors of the socket keep their `code` (ECONNREFUSED, CERT_..., ERR_TLS_...) for the caller's mapping. */
function closedError(): Error {
  return Object.assign(new Error('Socket closed unexpectedly'), { code: 'ECONNRESET' });
}

export class RespConnection {
  private readonly parser = new ReplyParser();
  private readonly pending: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  private detached = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(closedError()));
  }

  static open(target: RespTarget): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const tls = 'port' in target && target.ca !== undefined;
      const socket: Socket =
        'path' in target
          ? netConnect({ path: target.path })
          : target.ca !== undefined
            ? // host is an IP address: node checks it against the certificate's IP subjectAltName (no SNI)
              tlsConnect({ host: '127.0.0.1', port: target.port, ca: target.ca, rejectUnauthorized: true })
            : netConnect({ host: '127.0.0.1', port: target.port });
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`Connection timeout after ${target.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })), target.connectTimeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once('error', onError);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.setNoDelay(true);
        resolve(new RespConnection(socket));
      });
    });
  }

  /** Sends one command; the promise settles with its reply (a RespError rejects). */
  send(args: readonly string[]): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.detached) return Promise.reject(new Error('the connection was handed over'));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(encodeCommand(args));
    });
  }

  /**
   * Writes a command whose answer is not a reply but a stream (SYNC), and hands the socket over:
   * what already arrived after the last reply comes first. Only with no reply pending.
   */
  takeOver(args: readonly string[]): { socket: Socket; head: Buffer } {
    if (this.failure) throw this.failure;
    if (this.pending.length) throw new Error('replies are still pending');
    this.detached = true;
    // paused, so that nothing arrives before the new reader is there
    this.socket.removeAllListeners('data');
    this.socket.pause();
    this.socket.write(encodeCommand(args));
    return { socket: this.socket, head: this.parser.rest() };
  }

  /** Ends the connection (a TLS close_notify, then FIN); a peer that does not close its side is cut off. */
  close(): void {
    this.fail(closedError());
    if (this.socket.destroyed) return;
    this.socket.end();
    this.socket.unref();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Cuts the connection at once (after a protocol error, or a stream taken over and read). */
  destroy(): void {
    this.fail(closedError());
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.detached) return;
    try {
      this.parser.feed(chunk);
      for (let r = this.parser.next(); r; r = this.parser.next()) {
        const waiter = this.pending.shift();
        if (!waiter) throw new RespProtocolError('a reply came that no command asked for');
        if (r.value instanceof RespError) waiter.reject(r.value);
        else waiter.resolve(r.value);
      }
    } catch (err) {
      this.fail(err as Error);
      this.socket.destroy();
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.pending.splice(0)) w.reject(this.failure);
  }
}

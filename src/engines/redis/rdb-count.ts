/**
 * Counts the keys of each database in an RDB file as its bytes stream past (while a backup
 * copies it), without loading it anywhere: the opcodes and value encodings are walked and every
 * value skipped. Keys whose expire time has passed are not counted, as a load would drop them.
 * What it cannot walk (a module value of the old format, a type newer than it knows, a damaged
 * file) makes it say so, and the caller counts another way.
 */

/** Thrown inside a parse step when the buffer ends before the step does: the step is retried with more bytes. */
const MORE = Symbol('more');

export type RdbCount =
  | { ok: true; version: number; keys: Map<number, number> }
  | { ok: false; reason: string };

const OP = { SLOT_INFO: 0xf4, FUNCTION_PRE_GA: 0xf5, FUNCTION2: 0xf6, FREQ: 0xf7, IDLE: 0xf8, MODULE_AUX: 0xf9, AUX: 0xfa, RESIZEDB: 0xfb, EXPIRETIME_MS: 0xfc, EXPIRETIME: 0xfd, SELECTDB: 0xfe, EOF: 0xff } as const;

/** Value types stored as one string (ziplist, listpack, intset, zipmap encodings and plain strings). */
const ONE_STRING = new Set([0, 9, 10, 11, 12, 13, 16, 17, 20]);

/** An entry that has not ended after this many buffered bytes is not counted while streaming. */
export const MAX_BUFFERED_ENTRY = 256 * 1024 * 1024;

export class RdbKeyCounter {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the value being passed that are still to come (a long string at the end of an entry). */
  private skipping = 0;
  /** Parse again only once this many bytes wait, so an entry spread over many chunks is not re-joined for each. */
  private retryAt = 0;
  private version = -1;
  private db = 0;
  private expireAt: number | undefined;
  private trailer = -1;
  private failure: string | undefined;
  private readonly keys = new Map<number, number>();
  /** The string encoding len() read (-1: a plain length). */
  private encoding = -1;

  /** `now`: the time (ms) against which expire times are judged. */
  constructor(private readonly now: number = Date.now()) {}

  push(chunk: Buffer): void {
    if (this.failure) return;
    if (this.trailer >= 0) {
      this.trailer += chunk.length;
      return;
    }
    if (this.skipping) {
      if (chunk.length <= this.skipping) {
        this.skipping -= chunk.length;
        return;
      }
      chunk = chunk.subarray(this.skipping);
      this.skipping = 0;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.retryAt) return;
    const rest = this.buf.subarray(this.pos);
    this.buf = rest.length || this.pending.length > 1 ? Buffer.concat([rest, ...this.pending]) : this.pending[0]!;
    this.pos = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.parse();
  }

  /** The counts once the whole file went by, or why there are none. */
  end(): RdbCount {
    if (!this.failure && this.pendingBytes) {
      this.retryAt = 0;
      this.push(Buffer.alloc(0));
    }
    if (this.failure) return { ok: false, reason: this.failure };
    if (this.trailer < 0) return { ok: false, reason: 'the file ends before its EOF marker (truncated)' };
    const expected = this.version >= 5 ? 8 : 0;
    if (this.trailer !== expected) return { ok: false, reason: `${this.trailer} bytes follow the EOF marker, expected ${expected}` };
    return { ok: true, version: this.version, keys: new Map(this.keys) };
  }

  private fail(reason: string): void {
    this.failure = reason;
    this.buf = Buffer.alloc(0);
    this.pending = [];
  }

  private parse(): void {
    for (;;) {
      if (this.trailer >= 0) {
        this.trailer += this.buf.length - this.pos;
        this.buf = Buffer.alloc(0);
        this.pos = 0;
        return;
      }
      if (this.pos >= this.buf.length) {
        this.retryAt = 0;
        return;
      }
      const start = this.pos;
      try {
        this.step();
      } catch (err) {
        if (err !== MORE) {
          this.fail(err instanceof Error ? err.message : String(err));
          return;
        }
        this.pos = start;
        const waiting = this.buf.length - start;
        if (waiting > MAX_BUFFERED_ENTRY) this.fail(`an entry is larger than ${MAX_BUFFERED_ENTRY} bytes`);
        else this.retryAt = waiting;
        return;
      }
    }
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw MORE;
  }

  private u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  private skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /**
   * An RDB length; `encoded` says the special string encodings (type bits 11) are allowed: then
   * the length is 0 and `encoding` says which (else it is -1). A number and a field, not an
   * object, as this runs several times for every key (an object each made the GC work, issue 14).
   */
  private len(encoded = false): number {
    this.encoding = -1;
    const b = this.u8();
    switch (b >> 6) {
      case 0:
        return b & 0x3f;
      case 1:
        return ((b & 0x3f) << 8) | this.u8();
      case 2: {
        if (b === 0x80) {
          this.need(4);
          const n = this.buf.readUInt32BE(this.pos);
          this.pos += 4;
          return n;
        }
        if (b === 0x81) {
          this.need(8);
          const n = this.buf.readUInt32BE(this.pos) * 2 ** 32 + this.buf.readUInt32BE(this.pos + 4);
          this.pos += 8;
          if (!Number.isSafeInteger(n)) throw new Error('a length beyond 2^53');
          return n;
        }
        throw new Error(`unknown length prefix 0x${b.toString(16)}`);
      }
      default:
        if (!encoded) throw new Error('an encoded string where a length belongs');
        this.encoding = b & 0x3f;
        return 0;
    }
  }

  private count(): number {
    return this.len();
  }

  /** A length whose value does not matter (module ids and numbers may use all 64 bits). */
  private skipLen(): void {
    const b = this.u8();
    const kind = b >> 6;
    if (kind === 1) this.skip(1);
    else if (b === 0x80) this.skip(4);
    else if (b === 0x81) this.skip(8);
    else if (kind !== 0) throw new Error(`unknown length prefix 0x${b.toString(16)}`);
  }

  /** Passes one string; `last`: nothing of the entry follows it, so its bytes may still be on their way. */
  private string(last = false): void {
    let size = this.len(true);
    const enc = this.encoding;
    if (enc >= 0) {
      if (enc === 0) size = 1;
      else if (enc === 1) size = 2;
      else if (enc === 2) size = 4;
      else if (enc === 3) {
        size = this.count(); // compressed length
        this.count(); // uncompressed length
      } else throw new Error(`unknown string encoding ${enc}`);
    }
    if (last && this.pos + size > this.buf.length) {
      this.skipping = this.pos + size - this.buf.length;
      this.pos = this.buf.length;
      return;
    }
    this.skip(size);
  }

  /** A module value of the self-describing format: typed fields up to an EOF opcode. */
  private moduleFields(): void {
    for (;;) {
      const op = this.count();
      if (op === 0) return;
      if (op === 1 || op === 2) this.skipLen();
      else if (op === 3) this.skip(4);
      else if (op === 4) this.skip(8);
      else if (op === 5) this.string();
      else throw new Error(`unknown module field opcode ${op}`);
    }
  }

  private step(): void {
    if (this.version < 0) {
      this.need(9);
      const magic = this.buf.toString('latin1', this.pos, this.pos + 9);
      const m = /^REDIS(\d{4})$/.exec(magic);
      if (!m) throw new Error('not an RDB file (bad header)');
      this.version = Number(m[1]);
      this.pos += 9;
      return;
    }
    const op = this.u8();
    switch (op) {
      case OP.EOF:
        this.trailer = 0;
        return;
      case OP.SELECTDB:
        this.db = this.count();
        return;
      case OP.RESIZEDB:
        this.count();
        this.count();
        return;
      case OP.AUX:
        this.string();
        this.string();
        return;
      case OP.EXPIRETIME_MS:
        this.need(8);
        this.expireAt = this.buf.readUInt32LE(this.pos) + this.buf.readInt32LE(this.pos + 4) * 2 ** 32;
        this.pos += 8;
        return;
      case OP.EXPIRETIME:
        this.need(4);
        this.expireAt = this.buf.readInt32LE(this.pos) * 1000;
        this.pos += 4;
        return;
      case OP.IDLE:
        this.count();
        return;
      case OP.FREQ:
        this.skip(1);
        return;
      case OP.MODULE_AUX:
        this.skipLen();
        this.count();
        this.count();
        this.moduleFields();
        return;
      case OP.FUNCTION2:
        this.string();
        return;
      case OP.SLOT_INFO:
        this.count();
        this.count();
        this.count();
        return;
      case OP.FUNCTION_PRE_GA:
        throw new Error('a function library of a Redis 7.0 release candidate');
      default:
        this.keyValue(op);
    }
  }

  private keyValue(type: number): void {
    this.string(); // the key
    this.value(type);
    const expired = this.expireAt !== undefined && this.expireAt < this.now;
    this.expireAt = undefined;
    if (!expired) this.keys.set(this.db, (this.keys.get(this.db) ?? 0) + 1);
  }

  private value(type: number): void {
    if (ONE_STRING.has(type)) return this.string(true);
    switch (type) {
      case 1: // list of strings
      case 2: // set
      case 14: // quicklist of ziplists
        for (let n = this.count(); n > 0; n--) this.string();
        return;
      case 3: // sorted set, scores as text
        for (let n = this.count(); n > 0; n--) {
          this.string();
          const l = this.u8();
          if (l < 253) this.skip(l);
        }
        return;
      case 4: // hash
        for (let n = this.count(); n > 0; n--) {
          this.string();
          this.string();
        }
        return;
      case 5: // sorted set, binary scores
        for (let n = this.count(); n > 0; n--) {
          this.string();
          this.skip(8);
        }
        return;
      case 7: // module value, self-describing
        this.skipLen();
        this.moduleFields();
        return;
      case 18: // quicklist 2: container kind and listpack per node
        for (let n = this.count(); n > 0; n--) {
          this.count();
          this.string();
        }
        return;
      case 15:
      case 19:
      case 21:
        return this.stream(type);
      case 6:
        throw new Error('a module value of the old format (it can only be read by the module)');
      default:
        throw new Error(`value type ${type}, newer than this reader`);
    }
  }

  /** Streams: listpacks, then the metadata, then consumer groups with their pending entries and consumers. */
  private stream(type: number): void {
    for (let n = this.count(); n > 0; n--) {
      this.string();
      this.string();
    }
    this.count(); // length
    this.count(); // last id
    this.count();
    if (type >= 19) for (let i = 0; i < 5; i++) this.count(); // first id, max deleted id, entries added
    for (let groups = this.count(); groups > 0; groups--) {
      this.string(); // group name
      this.count(); // last delivered id
      this.count();
      if (type >= 19) this.count(); // entries read
      for (let pel = this.count(); pel > 0; pel--) {
        this.skip(16 + 8); // raw id, delivery time
        this.count(); // delivery count
      }
      for (let consumers = this.count(); consumers > 0; consumers--) {
        this.string(); // consumer name
        this.skip(type >= 21 ? 16 : 8); // seen time (and active time)
        for (let pel = this.count(); pel > 0; pel--) this.skip(16);
      }
    }
  }
}

// A bounds-checked little-endian cursor over a file read in chunks through a file descriptor,
// so a GGUF header is parsed without reading the tensor data. Leaves out writing.
import { readSync } from "node:fs";
import { InfuseError } from "../../core/errors.js";

const CHUNK_BYTES = 1 << 20;
const decoder = new TextDecoder("utf-8", { fatal: false });

export class FileCursor {
  private buf = new Uint8Array(0);
  private dv = new DataView(this.buf.buffer);
  /** File offset of buf[0]. */
  private bufStart = 0;
  /** Current absolute file offset. */
  pos = 0;

  constructor(
    private readonly fd: number,
    readonly fileSize: number,
    readonly file: string,
  ) {}

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** Fails with `gguf.truncated` naming what was being read, unless `n` more bytes exist. */
  need(n: number, what: string): void {
    if (n > this.remaining || n < 0) {
      throw new InfuseError(
        "gguf.truncated",
        `${this.file}: ${what} at byte ${this.pos} needs ${n} bytes but the file ends at ${this.fileSize}`,
        {
          kind: "input",
          hint: "the file is truncated or corrupt; download or write it again",
          details: { file: this.file, offset: this.pos, need: n, fileSize: this.fileSize },
        },
      );
    }
  }

  /** Makes `n` bytes at `pos` available in the buffer; returns their index in it. */
  private fill(n: number, what: string): number {
    this.need(n, what);
    const rel = this.pos - this.bufStart;
    if (rel >= 0 && rel + n <= this.buf.length) return rel;
    const size = Math.min(Math.max(n, CHUNK_BYTES), this.remaining);
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
    this.bufStart = this.pos;
    let got = 0;
    while (got < size) {
      const r = readSync(this.fd, this.buf, got, size - got, this.pos + got);
      if (r === 0) break;
      got += r;
    }
    if (got < size) this.need(size + 1, what); // the file shrank under us
    return 0;
  }

  u8(what: string): number {
    const i = this.fill(1, what);
    this.pos += 1;
    return this.buf[i]!;
  }
  i8(what: string): number {
    const i = this.fill(1, what);
    this.pos += 1;
    return this.dv.getInt8(i);
  }
  u16(what: string): number {
    const i = this.fill(2, what);
    this.pos += 2;
    return this.dv.getUint16(i, true);
  }
  i16(what: string): number {
    const i = this.fill(2, what);
    this.pos += 2;
    return this.dv.getInt16(i, true);
  }
  u32(what: string): number {
    const i = this.fill(4, what);
    this.pos += 4;
    return this.dv.getUint32(i, true);
  }
  i32(what: string): number {
    const i = this.fill(4, what);
    this.pos += 4;
    return this.dv.getInt32(i, true);
  }
  f32(what: string): number {
    const i = this.fill(4, what);
    this.pos += 4;
    return this.dv.getFloat32(i, true);
  }
  f64(what: string): number {
    const i = this.fill(8, what);
    this.pos += 8;
    return this.dv.getFloat64(i, true);
  }
  u64(what: string): bigint {
    const i = this.fill(8, what);
    this.pos += 8;
    return this.dv.getBigUint64(i, true);
  }
  i64(what: string): bigint {
    const i = this.fill(8, what);
    this.pos += 8;
    return this.dv.getBigInt64(i, true);
  }

  /** A u64 that must fit the file: counts and lengths larger than the bytes left are corrupt. */
  count(what: string, minBytesEach: number): number {
    const at = this.pos;
    const n = this.u64(what);
    if (n * BigInt(Math.max(minBytesEach, 1)) > BigInt(this.remaining)) {
      throw new InfuseError(
        "gguf.corrupt",
        `${this.file}: ${what} at byte ${at} is ${n}, more than the ${this.remaining} bytes left can hold`,
        { kind: "input", hint: "the file is corrupt or not a GGUF file", details: { file: this.file, offset: at } },
      );
    }
    return Number(n);
  }

  /** A GGUF string: u64 length, then UTF-8 bytes. */
  str(what: string): string {
    const len = this.count(`${what} length`, 1);
    if (len === 0) return "";
    const i = this.fill(len, what);
    this.pos += len;
    return decoder.decode(this.buf.subarray(i, i + len));
  }

  /** Raw bytes copied out of the buffer (for bulk numeric arrays). */
  bytes(n: number, what: string): Uint8Array {
    const i = this.fill(n, what);
    this.pos += n;
    return this.buf.slice(i, i + n);
  }
}

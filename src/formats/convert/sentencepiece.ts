// Reads a SentencePiece `tokenizer.model` (protobuf ModelProto) far enough to build a GGUF
// vocabulary: pieces, scores, types, special ids, add_dummy_prefix. Leaves out the trainer.
import { InfuseError } from "../../core/errors.js";

export interface SentencePieceModel {
  pieces: { piece: string; score: number; type: number }[];
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  addDummyPrefix: boolean;
}

/** SentencePiece piece types (sentencepiece_model.proto), equal to llama.cpp token types. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class Proto {
  pos = 0;
  private readonly dv: DataView;
  constructor(
    readonly b: Uint8Array,
    readonly file: string,
  ) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  fail(what: string): never {
    throw new InfuseError("sentencepiece.corrupt", `${this.file}: bad protobuf ${what} at byte ${this.pos}`, {
      kind: "input",
      hint: "pass a SentencePiece tokenizer.model file",
      details: { file: this.file, offset: this.pos },
    });
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.b.length) this.fail("varint");
      const byte = this.b[this.pos++]!;
      if (shift < 49) result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
  }
  /** Signed int32 fields are written as 64-bit two's complement varints. */
  int32(): number {
    const v = this.varint();
    return v >= 2 ** 31 ? v - 2 ** 64 : v;
  }
  float(): number {
    if (this.pos + 4 > this.b.length) this.fail("float");
    const v = this.dv.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  sub(): Proto {
    const len = this.varint();
    if (this.pos + len > this.b.length) this.fail("length");
    const p = new Proto(this.b.subarray(this.pos, this.pos + len), this.file);
    this.pos += len;
    return p;
  }
  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_I64) this.pos += 8;
    else if (wire === WIRE_LEN) this.sub();
    else if (wire === WIRE_I32) this.pos += 4;
    else this.fail(`wire type ${wire}`);
  }
  *fields(): Generator<[number, number]> {
    while (this.pos < this.b.length) {
      const key = this.varint();
      yield [Math.floor(key / 8), key & 7];
    }
  }
}

const utf8 = new TextDecoder();

export function parseSentencePieceModel(bytes: Uint8Array, file = "tokenizer.model"): SentencePieceModel {
  const model: SentencePieceModel = { pieces: [], unkId: 0, bosId: 1, eosId: 2, padId: -1, addDummyPrefix: true };
  const p = new Proto(bytes, file);
  for (const [field, wire] of p.fields()) {
    if (field === 1 && wire === WIRE_LEN) {
      const sp = p.sub();
      const piece = { piece: "", score: 0, type: PieceType.NORMAL as number };
      for (const [f, w] of sp.fields()) {
        if (f === 1 && w === WIRE_LEN) {
          const s = sp.sub();
          piece.piece = utf8.decode(s.b);
        } else if (f === 2 && w === WIRE_I32) piece.score = sp.float();
        else if (f === 3 && w === WIRE_VARINT) piece.type = sp.varint();
        else sp.skip(w);
      }
      model.pieces.push(piece);
    } else if (field === 2 && wire === WIRE_LEN) {
      const t = p.sub();
      for (const [f, w] of t.fields()) {
        if (w !== WIRE_VARINT) t.skip(w);
        else if (f === 40) model.unkId = t.int32();
        else if (f === 41) model.bosId = t.int32();
        else if (f === 42) model.eosId = t.int32();
        else if (f === 43) model.padId = t.int32();
        else t.varint();
      }
    } else if (field === 3 && wire === WIRE_LEN) {
      const n = p.sub();
      for (const [f, w] of n.fields()) {
        if (f === 3 && w === WIRE_VARINT) model.addDummyPrefix = n.varint() !== 0;
        else n.skip(w);
      }
    } else p.skip(wire);
  }
  if (model.pieces.length === 0) p.fail("model: no pieces");
  return model;
}

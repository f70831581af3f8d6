// Fuzzing parsers of outside bytes: fast-check draws each input's seed (a fixed seed and a fixed
// number of runs, so CI runs the same inputs every time), and mutators turn it into a mutation of
// a valid seed input (bytes, text or JSON): structure-aware mutation finds more in parsers than
// unstructured random input. The property: the call succeeds or throws an InfuseError whose kind
// is not "internal".
import fc from "fast-check";
import { expect } from "vitest";
import { isInfuseError } from "../../src/core/errors.js";

/** mulberry32: a tiny, fast, seedable PRNG (32-bit state). */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const INTERESTING_U32 = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

/** 1-4 byte-level mutations: flips, interesting bytes and words, inserted/removed/duplicated runs, truncation. */
export function mutateBytes(seed: Uint8Array, rng: Rng): Uint8Array {
  let b: Uint8Array = Uint8Array.from(seed);
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = rng.int(Math.max(1, b.length));
    switch (rng.int(7)) {
      case 0:
        if (b.length > 0) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length > 0) b[at] = rng.pick([0, 1, 0x7f, 0x80, 0xff, 0x22, 0x2c, 0x0a, 0x5c]);
        break;
      case 2: {
        // a little-endian 32- or 64-bit word set to an interesting value
        const v = rng.pick(INTERESTING_U32);
        const width = rng.pick([4, 8]);
        for (let i = 0; i < width && at + i < b.length; i++)
          b[at + i] = i < 4 ? (v >>> (8 * i)) & 0xff : rng.pick([0, 0xff]);
        break;
      }
      case 3:
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(16))));
        break;
      case 4: {
        const from = rng.int(Math.max(1, b.length));
        b = concat(b.subarray(0, at), b.subarray(from, from + 1 + rng.int(32)), b.subarray(at));
        break;
      }
      case 5:
        b = b.subarray(0, at);
        break;
      default:
        b = concat(
          b.subarray(0, at),
          Uint8Array.from({ length: 1 + rng.int(8) }, () => rng.int(256)),
          b.subarray(at),
        );
    }
  }
  return b;
}

const TEXT_TOKENS = [
  '"',
  '""',
  ",",
  "\n",
  "\r\n",
  "\r",
  "\t",
  "\\",
  "{",
  "}",
  "[",
  "]",
  ":",
  "<",
  ">",
  "</",
  "<!--",
  "&amp;",
  "&#0;",
  "\u0000",
  "\ufeff",
  "\ud800",
  "💥",
  " ",
  "#",
  "null",
  "-1",
  "1e400",
];

/** 1-4 text mutations: inserted syntax tokens, removed or duplicated runs, truncation. */
export function mutateText(seed: string, rng: Rng): string {
  let s = seed;
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = rng.int(s.length + 1);
    switch (rng.int(4)) {
      case 0:
        s = s.slice(0, at) + rng.pick(TEXT_TOKENS) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + rng.int(8));
        break;
      case 2: {
        const from = rng.int(s.length + 1);
        s = s.slice(0, at) + s.slice(from, from + 1 + rng.int(24)) + s.slice(at);
        break;
      }
      default:
        s = s.slice(0, at);
    }
  }
  return s;
}

const INTERESTING_JSON: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  0.5,
  1e308,
  -1e308,
  2 ** 53 + 2,
  "",
  "NaN",
  "x".repeat(300),
  [],
  {},
  [null],
  { "": null },
  [[[[[[[[[[[[]]]]]]]]]]]],
];

/** A JSON value with 1-3 nodes replaced by odd values, deleted, or given an unknown key. */
export function mutateJson(seed: unknown, rng: Rng): unknown {
  let v = structuredClone(seed);
  for (let n = 1 + rng.int(3); n > 0; n--) v = mutateNode(v, rng, 0);
  return v;
}

function mutateNode(v: unknown, rng: Rng, depth: number): unknown {
  const children = v !== null && typeof v === "object" ? Object.keys(v) : [];
  if (children.length === 0 || rng.int(4) === 0 || depth > 8) return structuredClone(rng.pick(INTERESTING_JSON));
  const key = rng.pick(children);
  const obj = v as Record<string, unknown>;
  const r = rng.int(6);
  if (r === 0 && !Array.isArray(v)) delete obj[key];
  else if (r === 1 && !Array.isArray(v)) obj[`unknown_${rng.int(100)}`] = structuredClone(rng.pick(INTERESTING_JSON));
  else obj[key] = mutateNode(obj[key], rng, depth + 1);
  return v;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface FuzzTarget<T> {
  seed: number;
  runs: number;
  /** One input from the generator. */
  input: (rng: Rng) => T;
  /** The call under test; it may succeed or throw a non-internal InfuseError. */
  run: (input: T) => Promise<unknown> | unknown;
  /** How an input is written in a failure report (to paste it into a regression fixture). */
  show: (input: T) => string;
  /** Inputs that once escaped, run first: regression fixtures. */
  regressions?: T[];
  /** How much the process may grow over all runs (default 512 MiB): inputs are small. */
  growthBytes?: number;
}

/** What escaped: an error that is not an InfuseError, or an InfuseError of kind "internal". */
export function escaped(e: unknown): string | undefined {
  if (isInfuseError(e)) return e.kind === "internal" ? `internal InfuseError ${e.code}: ${e.message}` : undefined;
  return e instanceof Error ? `${e.name}: ${e.message}` : `thrown ${String(e)}`;
}

interface Escape {
  count: number;
  /** The shortest input that gave it. */
  shown: string;
}

/**
 * Runs the regression inputs, then `runs` generated ones; fails listing each distinct escape
 * (error text with numbers blanked) with the shortest input that gave it.
 */
export async function fuzz<T>(target: FuzzTarget<T>): Promise<void> {
  const escapes = new Map<string, Escape>();
  const rssBefore = process.memoryUsage().rss;
  const inputs = [...(target.regressions ?? [])];
  const seeds = fc.sample(fc.integer(), { seed: target.seed, numRuns: target.runs });
  for (const seed of seeds) inputs.push(target.input(new Rng(seed)));
  for (const input of inputs) {
    try {
      await target.run(input);
    } catch (e) {
      const why = escaped(e);
      if (!why) continue;
      const key = why.replace(/\d+/g, "N").slice(0, 160);
      const shown = target.show(input);
      const seen = escapes.get(key);
      if (!seen) escapes.set(key, { count: 1, shown });
      else {
        seen.count++;
        if (shown.length < seen.shown.length) seen.shown = shown;
      }
    }
  }
  const lines = [...escapes].map(([why, { count, shown }]) => `${why} (${count}x)\n    input: ${shown}`);
  expect(lines.join("\n"), `${lines.length} kinds of error escaped`).toBe("");
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(target.growthBytes ?? 512 * 2 ** 20);
}

/** Bytes as a literal for a regression fixture: `hex("…")`. */
export const showBytes = (b: Uint8Array) => `hex("${Buffer.from(b).toString("hex")}")`;
export const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
export const showText = (s: string) => JSON.stringify(s);

// Rendered records to token ids and next-token labels (−100 where no loss is taken), with truncation
// counted (long prompts lose their middle, so the response stays), raw text cut into blocks, and optional packing of several examples into one row.
// Prompt boundaries come from encoding the text up to each boundary, so tokens match whole-text encoding.
import type { Tokenizer } from "../../tokenizers/types.js";
import type { TrainRecord } from "./records.js";
import type { Segment, Template } from "./templates.js";

export const IGNORE = -100;

export interface Example {
  ids: Int32Array;
  /** labels[t] = ids[t+1] when that token is learned, else −100. */
  labels: Int32Array;
  /** Packed rows: which example each token came from (attention and positions stay within it). */
  segments?: Int32Array;
  /** A record cut to --max-length: `dropped` tokens were taken out before position `at` of `ids`. */
  cut?: { at: number; dropped: number };
}

export interface EncodeOptions {
  maxLength: number;
  trainOnPrompt?: boolean;
}

export interface EncodeStats {
  records: number;
  examples: number;
  truncated: number;
  /** Records with no learned token left after truncation. */
  dropped: number;
  /** Token lengths before truncation. */
  lengths: number[];
  /** Tokens with a loss. */
  trainedTokens: number;
}

/** Token ids of one chunk and a per-token flag: learned or not. */
function encodeChunk(
  tokenizer: Tokenizer,
  segs: { text: string; train: boolean }[],
  addSpecial: boolean,
  all: boolean,
): { ids: number[]; train: boolean[] } {
  const opts = { addSpecial, parseSpecial: true };
  const ids = tokenizer.encode(segs.map((s) => s.text).join(""), opts);
  const train = new Array<boolean>(ids.length).fill(false);
  let text = "";
  let from = 0;
  for (const [k, s] of segs.entries()) {
    text += s.text;
    // the last prefix is the whole text: its ids are `ids` (one encode less of a long record)
    const prefix = k === segs.length - 1 ? ids : tokenizer.encode(text, opts);
    let end = 0;
    while (end < prefix.length && end < ids.length && prefix[end] === ids[end]) end++;
    for (let i = from; i < end; i++) train[i] = all || s.train;
    from = Math.max(from, end);
  }
  return { ids, train };
}

/** All tokens of a record and which are learned (BOS never is: nothing predicts it). */
export function encodeRecord(
  tokenizer: Tokenizer,
  template: Template,
  record: TrainRecord,
  trainOnPrompt = false,
): { ids: number[]; train: boolean[] } {
  const segments: Segment[] = template.render(record);
  const ids: number[] = [];
  const train: boolean[] = [];
  let chunk: { text: string; train: boolean }[] = [];
  let first = true;
  const flush = (): void => {
    if (chunk.length === 0) return;
    const c = encodeChunk(tokenizer, chunk, first || template.bosPerTurn, trainOnPrompt);
    // loops, not push(...c.ids): a spread of a long record's tokens overflows the call stack
    for (const id of c.ids) ids.push(id);
    for (const t of c.train) train.push(t);
    chunk = [];
    first = false;
  };
  for (const s of segments) {
    if ("eos" in s) {
      flush();
      if (tokenizer.eosId !== undefined) {
        ids.push(tokenizer.eosId);
        train.push(true);
      }
    } else chunk.push(s);
  }
  flush();
  if (tokenizer.bosId !== undefined && ids[0] === tokenizer.bosId) train[0] = false;
  return { ids, train };
}

function toExample(ids: number[], train: boolean[]): Example {
  const labels = new Int32Array(ids.length).fill(IGNORE);
  for (let t = 0; t + 1 < ids.length; t++) if (train[t + 1]) labels[t] = ids[t + 1]!;
  return { ids: Int32Array.from(ids), labels };
}

/** Longest prompt tokens kept after the cut (the template's tail: "### Response:" and the like). */
const PROMPT_TAIL = 32;

/**
 * A record over `max` tokens keeps its response: tokens leave the middle of the prompt (its head and
 * last PROMPT_TAIL tokens stay), and only a response longer than that room is cut at its end.
 */
function fitToLength(
  ids: number[],
  train: boolean[],
  max: number,
): { ids: number[]; train: boolean[]; cut?: { at: number; dropped: number } } {
  if (ids.length <= max) return { ids, train };
  const first = train.indexOf(true);
  const room = max - (ids.length - first); // prompt tokens that fit beside the whole response
  if (first < 0 || room < 2 * PROMPT_TAIL) {
    return { ids: ids.slice(0, max), train: train.slice(0, max), cut: { at: max, dropped: ids.length - max } };
  }
  const tail = Math.min(PROMPT_TAIL, Math.floor(room / 2));
  const keep = (a: number, b: number): number[] => [
    ...Array.from({ length: a }, (_, i) => i),
    ...Array.from({ length: ids.length - b }, (_, i) => b + i),
  ];
  const idx = keep(room - tail, first - tail);
  const cut = { at: room - tail, dropped: first - room };
  return { ids: idx.map((i) => ids[i]!), train: idx.map((i) => train[i]!), cut };
}

const hasLabel = (e: Example): boolean => e.labels.some((l) => l !== IGNORE);

/** A record cut to --max-length: where it is, its tokens, and how many were taken out at which position. */
export interface CutRecord {
  record: string;
  tokens: number;
  kept: number;
  /** Position in the kept tokens where the dropped ones were. */
  at: number;
}

/** Encodes every record; raw text is cut into blocks of maxLength, other records truncated (counted, listed). */
export function encodeRecords(
  tokenizer: Tokenizer,
  template: Template,
  records: TrainRecord[],
  options: EncodeOptions,
): { examples: Example[]; stats: EncodeStats; cuts: CutRecord[] } {
  const cuts: CutRecord[] = [];
  const stats: EncodeStats = {
    records: records.length,
    examples: 0,
    truncated: 0,
    dropped: 0,
    lengths: [],
    trainedTokens: 0,
  };
  const examples: Example[] = [];
  const max = options.maxLength;
  for (const record of records) {
    const { ids, train } = encodeRecord(tokenizer, template, record, options.trainOnPrompt ?? false);
    stats.lengths.push(ids.length);
    const parts: Example[] = [];
    if (record.kind === "text") {
      for (let s = 0; s < ids.length - 1; s += max)
        parts.push(toExample(ids.slice(s, s + max), train.slice(s, s + max)));
    } else {
      if (ids.length > max) stats.truncated++;
      const fit = fitToLength(ids, train, max);
      parts.push({ ...toExample(fit.ids, fit.train), ...(fit.cut ? { cut: fit.cut } : {}) });
      if (fit.cut) cuts.push({ record: record.where, tokens: ids.length, kept: fit.ids.length, at: fit.cut.at });
    }
    const kept = parts.filter(hasLabel);
    if (kept.length === 0) stats.dropped++;
    for (const e of kept) examples.push(e);
  }
  stats.examples = examples.length;
  stats.trainedTokens = examples.reduce((n, e) => n + e.labels.filter((l) => l !== IGNORE).length, 0);
  return { examples, stats, cuts };
}

/**
 * Concatenates examples in order into rows of at most maxLength tokens (an example never splits).
 * Each token records its example (segments), so attention does not cross from one to the next.
 */
export function packExamples(examples: Example[], maxLength: number): Example[] {
  const out: Example[] = [];
  let row: Example[] = [];
  let length = 0;
  const emit = (): void => {
    if (row.length === 0) return;
    const ids = new Int32Array(length);
    const labels = new Int32Array(length);
    const segments = new Int32Array(length);
    let at = 0;
    row.forEach((e, k) => {
      ids.set(e.ids, at);
      labels.set(e.labels, at);
      segments.fill(k, at, at + e.ids.length);
      at += e.ids.length;
    });
    out.push({ ids, labels, segments });
    row = [];
    length = 0;
  };
  for (const e of examples) {
    if (length + e.ids.length > maxLength) emit();
    row.push(e);
    length += e.ids.length;
  }
  emit();
  return out;
}

/** The prompt of a record as training tokenized it: its ids up to the first learned token. */
export function promptIds(tokenizer: Tokenizer, template: Template, record: TrainRecord): number[] {
  const { ids, train } = encodeRecord(tokenizer, template, record);
  const first = train.indexOf(true);
  return ids.slice(0, first < 0 ? ids.length : first);
}

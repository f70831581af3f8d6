// A Tokenizer over a Hugging Face tokenizer.json (+ tokenizer_config.json), run by
// @huggingface/tokenizers; the GGUF path (gguf-tokenizer.ts) gives the same ids for the same vocabulary.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { InfuseError } from "../core/errors.js";
import type { DecodeOptions, EncodeOptions, Tokenizer } from "./types.js";

interface HfConfig {
  bos_token?: unknown;
  eos_token?: unknown;
  chat_template?: string;
  add_bos_token?: boolean;
}

function tokenText(t: unknown): string | undefined {
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && "content" in t) return String((t as { content: unknown }).content);
  return undefined;
}

export class HfJsonTokenizer implements Tokenizer {
  readonly kind = "hf" as const;
  private readonly hf: HfTokenizer;
  private readonly vocab: Map<string, number>;
  private readonly specials: Set<number>;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly chatTemplate: string | undefined;

  constructor(json: Record<string, unknown>, config: HfConfig = {}) {
    this.hf = new HfTokenizer(json, config);
    const model = json["model"] as { vocab: Record<string, number> | [string, number][] };
    const entries: [string, number][] = Array.isArray(model.vocab)
      ? model.vocab.map(([t], i) => [t, i])
      : Object.entries(model.vocab);
    const added = (json["added_tokens"] as { id: number; content: string; special: boolean }[] | undefined) ?? [];
    this.vocab = new Map(entries);
    for (const a of added) this.vocab.set(a.content, a.id);
    this.specials = new Set(added.filter((a) => a.special).map((a) => a.id));
    let top = -1;
    for (const id of this.vocab.values()) top = Math.max(top, id); // no spread: a large vocabulary overflows the stack
    this.vocabSize = top + 1;
    const bos = tokenText(config.bos_token);
    const eos = tokenText(config.eos_token);
    this.bosId = bos === undefined ? undefined : this.vocab.get(bos);
    this.eosId = eos === undefined ? undefined : this.vocab.get(eos);
    this.chatTemplate = config.chat_template;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: options.addSpecial ?? true }).ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return this.hf.decode([...ids], { skip_special_tokens: options.skipSpecial ?? true });
  }

  tokenBytes(id: number): Uint8Array {
    return Buffer.from(this.hf.decode([id], { skip_special_tokens: false }), "utf8");
  }

  tokenId(text: string): number | undefined {
    return this.vocab.get(text);
  }

  isSpecial(id: number): boolean {
    return this.specials.has(id);
  }
}

/** Loads tokenizer.json (and tokenizer_config.json beside it, if present) from a file or folder. */
export async function loadHfTokenizer(fileOrDir: string): Promise<HfJsonTokenizer> {
  const file = fileOrDir.endsWith(".json") ? fileOrDir : path.join(fileOrDir, "tokenizer.json");
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new InfuseError("tokenizer.read_failed", `${file}: cannot read tokenizer.json (${(e as Error).message})`, {
      kind: (e as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "input",
      cause: e,
    });
  }
  let config: HfConfig = {};
  try {
    config = JSON.parse(await readFile(path.join(path.dirname(file), "tokenizer_config.json"), "utf8")) as HfConfig;
  } catch {
    // tokenizer_config.json is optional
  }
  try {
    if (json === null || typeof json !== "object" || Array.isArray(json)) throw new Error("not a JSON object");
    return new HfJsonTokenizer(json, config);
  } catch (e) {
    // @huggingface/tokenizers throws plain Errors and TypeErrors on a malformed file
    throw new InfuseError(
      "tokenizer.invalid",
      `${file}: not a tokenizer.json infuse can read (${(e as Error).message})`,
      {
        kind: "input",
        hint: "use the tokenizer.json saved with the model (Hugging Face tokenizers format)",
        cause: e,
        details: { file },
      },
    );
  }
}

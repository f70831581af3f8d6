// One entry point for a model's tokenizer: a GGUF file (its tokenizer.ggml.* metadata), or a
// folder with tokenizer.json (Hugging Face) or tokenizer.model (SentencePiece).
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import { ggufVocabFromSentencePiece } from "../formats/convert/vocab.js";
import { GGUF_KEYS } from "../formats/gguf/keys.js";
import { kv } from "../formats/gguf/kv.js";
import { openGguf } from "../formats/gguf/reader.js";
import { GgufTokenizer } from "./gguf-tokenizer.js";
import { loadHfTokenizer } from "./hf.js";
import type { Tokenizer } from "./types.js";

export async function loadTokenizer(modelPath: string): Promise<Tokenizer> {
  const info = await stat(modelPath).catch(() => undefined);
  if (!info)
    throw new InfuseError("tokenizer.not_found", `${modelPath}: no such file or folder`, { kind: "not_found" });
  if (info.isFile() && modelPath.toLowerCase().endsWith(".gguf")) {
    const g = await openGguf(modelPath);
    g.close();
    return new GgufTokenizer(g.metadata, modelPath);
  }
  if (info.isFile() && modelPath.endsWith(".json")) return loadHfTokenizer(modelPath);
  const dir = info.isDirectory() ? modelPath : path.dirname(modelPath);
  if (existsSync(path.join(dir, "tokenizer.json"))) return loadHfTokenizer(dir);
  const sp = path.join(dir, "tokenizer.model");
  if (existsSync(sp)) {
    const md = ggufVocabFromSentencePiece(await readFile(sp), sp);
    const cfgFile = path.join(dir, "tokenizer_config.json");
    if (existsSync(cfgFile)) {
      const cfg = JSON.parse(await readFile(cfgFile, "utf8")) as { chat_template?: unknown };
      if (typeof cfg.chat_template === "string") md.set(GGUF_KEYS.chatTemplate, kv.str(cfg.chat_template));
    }
    return new GgufTokenizer(md, sp);
  }
  throw new InfuseError("tokenizer.not_found", `${modelPath}: no GGUF, tokenizer.json or tokenizer.model`, {
    kind: "not_found",
    hint: "point at a .gguf file or a model folder with its tokenizer files",
  });
}

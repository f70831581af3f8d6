// `infuse export BASE [--adapter DIR] --quantize q4_k_m --out DIR`: the model users run elsewhere —
// the base (an adapter merged in first when given) written as one GGUF in the chosen scheme, mixed as
// llama.cpp mixes it (mix.ts), with the chat template inside (the adapter's, else the model's), and an
// Ollama Modelfile beside it (modelfile.ts). `tune merge --quantize` is the same with an adapter.
// Leaves out uploading and importance matrices.
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { convertHfToGguf } from "../../formats/convert/hf-to-gguf.js";
import { GGUF_KEYS, ggmlTypeName, kv, openGguf, writeGguf, type GgufTensorInput } from "../../formats/gguf/index.js";
import { mergeAdapter } from "../merge.js";
import { EXPORT_QUANTS, exportType, FILE_TYPE, type ExportQuant } from "./mix.js";
import { modelfile, type TemplateFamily } from "./modelfile.js";

export interface ExportOptions extends TaskOptions {
  /** A PEFT adapter folder to merge in first. */
  adapter?: string;
  /** The scheme (default q8_0). */
  quantize?: ExportQuant;
  /** The folder for the GGUF and the Modelfile. */
  out: string;
  /** The GGUF's file name (default `<base name>-<scheme>.gguf`). */
  name?: string;
}

export interface ExportResult {
  gguf: string;
  modelfile: string;
  quantize: ExportQuant;
  /** Tensors per GGML type written (Q4_K: 9, Q6_K: 3, F32: 5 …). */
  types: Record<string, number>;
  /** Whether a chat template is inside, and the family its Modelfile TEMPLATE was written for. */
  chatTemplate: boolean;
  templateFamily: TemplateFamily | null;
}

export function checkExportQuant(q: string): ExportQuant {
  if ((EXPORT_QUANTS as readonly string[]).includes(q)) return q as ExportQuant;
  throw new InfuseError("export.bad_quant", `--quantize must be one of ${EXPORT_QUANTS.join(", ")}, got "${q}"`, {
    kind: "usage",
    hint: "q4_k_m is the usual size/quality balance; q8_0 is nearly lossless",
    details: { quantize: q, allowed: [...EXPORT_QUANTS] },
  });
}

const stem = (p: string): string => path.basename(p).replace(/\.gguf$/i, "");

export async function exportModel(base: string, o: ExportOptions): Promise<ExportResult> {
  const quant = checkExportQuant(o.quantize ?? "q8_0");
  const task = { ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) };
  const tmp = mkdtempSync(path.join(tmpdir(), "infuse-export-"));
  try {
    let source = base;
    if (o.adapter) {
      source = path.join(tmp, "merged.gguf");
      await mergeAdapter(base, o.adapter, source, task);
    } else if (existsSync(base) && statSync(base).isDirectory()) {
      source = path.join(tmp, "base.gguf");
      await convertHfToGguf(base, source, { ...task, outType: "F32" });
    }
    await mkdir(o.out, { recursive: true });
    const name = o.name ?? `${stem(base)}-${quant}.gguf`;
    const file = path.join(o.out, name);
    const gguf = await openGguf(source, task);
    let jinja: string | undefined;
    const types: Record<string, number> = {};
    let tokens: { bos?: string; eos?: string } = {};
    try {
      const layers = Number(gguf.get(`${gguf.architecture}.block_count`) ?? 0);
      const tied = !gguf.tensors.some((t) => t.name === "output.weight");
      const tensors: GgufTensorInput[] = [];
      for (const [i, t] of gguf.tensors.entries()) {
        const type = exportType(quant, t, layers, tied);
        types[ggmlTypeName(type)] = (types[ggmlTypeName(type)] ?? 0) + 1;
        if (type === t.type) {
          tensors.push({ name: t.name, dims: t.dims, type, bytes: await gguf.readTensorBytes(t.name, task) });
        } else tensors.push({ name: t.name, dims: t.dims, type, data: await gguf.readTensorF32(t.name, task) });
        o.onProgress?.({ task: `quantize ${quant}`, done: i + 1, total: gguf.tensors.length, unit: "tensors" });
      }
      const metadata = new Map(gguf.metadata);
      metadata.set(GGUF_KEYS.fileType, kv.u32(FILE_TYPE[quant]));
      const t = gguf.get(GGUF_KEYS.chatTemplate);
      jinja = typeof t === "string" && t.length > 0 ? t : undefined;
      tokens = tokenStrings(gguf.get(GGUF_KEYS.tokens), gguf.get(GGUF_KEYS.bosId), gguf.get(GGUF_KEYS.eosId));
      await writeGguf(file, { metadata, tensors }, task);
    } finally {
      gguf.close();
    }
    const mf = modelfile(name, jinja, tokens);
    const mfPath = path.join(o.out, "Modelfile");
    await writeFile(mfPath, mf.text);
    return {
      gguf: file,
      modelfile: mfPath,
      quantize: quant,
      types,
      chatTemplate: jinja !== undefined,
      templateFamily: mf.family,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function tokenStrings(vocab: unknown, bos: unknown, eos: unknown): { bos?: string; eos?: string } {
  if (!Array.isArray(vocab)) return {};
  const at = (id: unknown): string | undefined => {
    const n = typeof id === "bigint" ? Number(id) : id;
    return typeof n === "number" && typeof vocab[n] === "string" ? (vocab[n] as string) : undefined;
  };
  const [b, e] = [at(bos), at(eos)];
  return { ...(b !== undefined ? { bos: b } : {}), ...(e !== undefined ? { eos: e } : {}) };
}

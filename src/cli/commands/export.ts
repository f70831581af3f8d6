// `infuse export BASE [--adapter DIR] [--quantize q4_k_m] --out DIR`: a GGUF users run elsewhere
// (llama.cpp, Ollama, LM Studio), the adapter merged in, the chat template inside, and an Ollama
// Modelfile beside it (train/export does the work).
import { InfuseError } from "../../core/errors.js";
import { exportEncoder, isEncoderModel, type SavedEncoder } from "../../train/export/encoder.js";
import { exportModel, type ExportResult } from "../../train/export/export.js";
import { EXPORT_QUANTS, type ExportQuant } from "../../train/export/mix.js";
import type { RegisterCommand } from "../runtime.js";

/** One line: the file, its scheme and the tensor types in it, and the Modelfile. */
export function renderExport(r: ExportResult): string {
  const types = Object.entries(r.types)
    .map(([t, n]) => `${n} ${t}`)
    .join(", ");
  const tmpl = r.chatTemplate ? `chat template inside (Modelfile TEMPLATE: ${r.templateFamily})` : "no chat template";
  return `wrote ${r.gguf} (${r.quantize}: ${types}; ${tmpl})\nwrote ${r.modelfile}: ollama create NAME -f ${r.modelfile}`;
}

/** The files an encoder export wrote, one line per format, with the tool that loads each. */
export function renderEncoderExport(r: SavedEncoder): string {
  const lines: string[] = [];
  if (r.st) lines.push(`wrote ${r.st} (sentence-transformers folder; infuse ingest --embedder ${r.st})`);
  if (r.gguf) lines.push(`wrote ${r.gguf} (GGUF for llama.cpp / Ollama, pooling ${r.pooling})`);
  if (r.onnx) lines.push(`wrote ${r.onnx} (ONNX; transformers.js loads ${r.dir})`);
  return lines.join("\n");
}

export const registerExport: RegisterCommand = (program, run) => {
  program
    .command("export")
    .argument("<base>", "the base model: a .gguf file or a Hugging Face folder (a decoder or a BERT-family encoder)")
    .option("--adapter <dir>", "a LoRA adapter folder (from infuse tune) to merge in first")
    .option("--quantize <type>", `decoders: ${EXPORT_QUANTS.join("|")} (default q8_0); encoders: f32|f16 (default f32)`)
    .option("--format <list>", "encoders: st,gguf,onnx (comma-separated; default st); decoders: gguf only")
    .option("-o, --out <dir>", "the folder for the output")
    .description(
      "write a decoder as a quantized GGUF with an Ollama Modelfile, or an encoder as a sentence-transformers folder, GGUF and/or ONNX",
    )
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse export model.gguf --adapter ./adapter --quantize q4_k_m --out ./export\n" +
        "  cd export && ollama create my-model -f Modelfile && ollama run my-model\n" +
        "  infuse export ./tuned-encoder --format st,gguf,onnx --out ./encoder-export\n" +
        "\nq4_k_m and q5_k_m mix types as llama.cpp does (output and some attn_v/ffn_down as Q6_K);\n" +
        "matrices whose rows do not fill 256-value blocks are written as Q8_0.\n" +
        "An encoder (a bert GGUF, or a folder whose config.json says bert or xlm-roberta) is written as:\n" +
        "  st    a sentence-transformers folder (config.json, model.safetensors, tokenizer, pooling)\n" +
        "  gguf  DIR/model.gguf that llama.cpp and Ollama embed with\n" +
        "  onnx  DIR/onnx/model.onnx beside config.json + tokenizer.json, as transformers.js loads it\n" +
        "See docs/embedding-outputs.md.",
    )
    .action(
      run(async (rt, base: string, flags: { adapter?: string; quantize?: string; format?: string; out?: string }) => {
        if (!flags.out) throw new InfuseError("cli.out_required", "give --out DIR for the export", { kind: "usage" });
        const formats = flags.format?.split(",").map((f) => f.trim().toLowerCase());
        if (await isEncoderModel(base)) {
          if (flags.adapter !== undefined) {
            throw new InfuseError("export.encoder_adapter", "an encoder export takes no --adapter", {
              kind: "usage",
              hint: "infuse embed tune writes the tuned encoder as a folder of its own; export that folder",
            });
          }
          const progress = rt.out.progress();
          let saved: SavedEncoder;
          try {
            saved = await exportEncoder(base, {
              out: flags.out,
              ...(formats ? { formats } : {}),
              ...(flags.quantize !== undefined ? { dtype: flags.quantize } : {}),
              signal: rt.signal,
              onProgress: progress,
            });
          } finally {
            progress.done();
          }
          rt.out.result(saved, renderEncoderExport);
          return;
        }
        if (formats && formats.some((f) => f !== "gguf")) {
          throw new InfuseError(
            "export.bad_format",
            `a decoder is exported as gguf only, got --format ${flags.format}`,
            {
              kind: "usage",
              hint: "st and onnx are for BERT-family encoders (a bert GGUF or a folder whose config.json says bert)",
            },
          );
        }
        const progress = rt.out.progress();
        let result: ExportResult;
        try {
          result = await exportModel(base, {
            out: flags.out,
            quantize: (flags.quantize ?? "q8_0") as ExportQuant,
            ...(flags.adapter !== undefined ? { adapter: flags.adapter } : {}),
            signal: rt.signal,
            onProgress: progress,
          });
        } finally {
          progress.done();
        }
        rt.out.result(result, renderExport);
      }),
    );
};

// Cross-encoder reranking with an ONNX sequence-classification model (e.g. ms-marco-MiniLM,
// bge-reranker) through @huggingface/transformers: query and passage are read together and the
// relevance logit is the score. Leaves out models with more than two labels.
import path from "node:path";
import { AutoModelForSequenceClassification, AutoTokenizer, env } from "@huggingface/transformers";
import type { PreTrainedModel, PreTrainedTokenizer, Tensor } from "@huggingface/transformers";
import { cancelledError, InfuseError, throwIfAborted } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { pickOnnxFile } from "../embed/onnx.js";
import type { Reranker } from "./reranker.js";

export interface CrossEncoderOptions {
  /** Pairs per forward pass; default 16. */
  batchSize?: number;
  /** Tokens per pair (query + passage); default 512. */
  maxLength?: number;
}

export class CrossEncoderReranker implements Reranker {
  private constructor(
    readonly id: string,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly model: PreTrainedModel,
    private readonly options: CrossEncoderOptions,
  ) {}

  /** Loads a local model folder (config.json, tokenizer files, onnx/model*.onnx); `ref` names it. */
  static async load(
    ref: string,
    folder: string,
    files: string[],
    options: CrossEncoderOptions = {},
  ): Promise<CrossEncoderReranker> {
    const file = pickOnnxFile(files);
    if (!file)
      throw new InfuseError("rerank.no_onnx", `${ref} has no ONNX model (looked for onnx/model.onnx and variants)`, {
        kind: "input",
        hint: "use a transformers.js-ready cross-encoder export (e.g. Xenova/ms-marco-MiniLM-L-6-v2), or --reranker llm",
        details: { folder, files },
      });
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    const subfolder = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
    try {
      const tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
      const model = await AutoModelForSequenceClassification.from_pretrained(folder, {
        local_files_only: true,
        dtype: "fp32",
        subfolder,
        model_file_name: path.posix.basename(file, ".onnx"),
      });
      return new CrossEncoderReranker(`cross-encoder:${ref}`, tokenizer, model, options);
    } catch (e) {
      throw new InfuseError(
        "rerank.model_load_failed",
        `cannot load the cross-encoder ${ref}: ${(e as Error).message}`,
        {
          kind: "input",
          hint: "the folder needs config.json, tokenizer.json and an ONNX sequence-classification model with a logits output",
          cause: e,
          details: { folder, file },
        },
      );
    }
  }

  async score(query: string, passages: string[], options: TaskOptions = {}): Promise<number[]> {
    const batch = this.options.batchSize ?? 16;
    const out: number[] = [];
    for (let i = 0; i < passages.length; i += batch) {
      throwIfAborted(options.signal, "cross-encoder reranking");
      const part = passages.slice(i, i + batch);
      const inputs = this.tokenizer(
        part.map(() => query),
        { text_pair: part, padding: true, truncation: true, max_length: this.options.maxLength ?? 512 },
      );
      let logits: Tensor;
      try {
        ({ logits } = (await this.model(inputs)) as { logits: Tensor });
      } catch (e) {
        if (options.signal?.aborted) throw cancelledError("cross-encoder reranking", e);
        throw e;
      }
      const [rows, labels] = logits.dims as [number, number];
      const data = logits.data as Float32Array;
      for (let r = 0; r < rows; r++) {
        // one label: the logit; two labels: the "relevant" logit minus the other (softmax-monotone)
        out.push(labels === 1 ? data[r]! : data[r * labels + labels - 1]! - data[r * labels]!);
      }
      options.onProgress?.({ task: "rerank", done: out.length, total: passages.length, unit: "passages" });
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

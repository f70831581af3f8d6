// Embeddings from a server: OpenAI-compatible `/v1/embeddings` or Ollama's `/api/embed`.
// The server pools and truncates; prefixes and normalisation are applied on our side as for
// local models. Leaves out the `dimensions` (Matryoshka) parameter.
import { OLLAMA_AUTH_HINT, OPENAI_AUTH_HINT, openaiHeaders, type OpenAIEndpoint } from "../llm/endpoints.js";
import { badResponse, joinUrl, postJson, readJson } from "../llm/http.js";
import type { EmbedBackend } from "./embedder.js";

export class OpenAIEmbedBackend implements EmbedBackend {
  readonly id: string;

  constructor(
    private readonly model: string,
    private readonly endpoint: OpenAIEndpoint,
    readonly batchSize = 64,
  ) {
    this.id = `openai:${model}@${endpoint.baseUrl}`;
  }

  knownDimension(): undefined {
    return undefined;
  }

  async embedBatch(texts: string[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
    const url = joinUrl(this.endpoint.baseUrl, "embeddings");
    const response = await postJson(
      url,
      { model: this.model, input: texts, encoding_format: "float" },
      {
        area: "embed",
        what: `OpenAI-compatible embeddings (model "${this.model}")`,
        headers: openaiHeaders(this.endpoint.apiKey),
        signal,
        unreachableHint: "start the server or set OPENAI_BASE_URL (or rag.embedder.baseUrl) to where it listens",
        authHint: OPENAI_AUTH_HINT,
        notFoundHint: `check the base URL (it usually ends in /v1) and that the server serves model "${this.model}"`,
      },
    );
    const json = await readJson<{ data?: { index?: number; embedding?: unknown }[] }>(response, url, "embed");
    if (!Array.isArray(json.data)) throw badResponse(url, "embed", "no `data` array");
    const out = new Array<Float32Array>(json.data.length);
    json.data.forEach((item, i) => {
      if (!Array.isArray(item.embedding))
        throw badResponse(url, "embed", "an item has no numeric `embedding` (base64 is not requested)");
      out[item.index ?? i] = Float32Array.from(item.embedding as number[]);
    });
    return out;
  }
}

export class OllamaEmbedBackend implements EmbedBackend {
  readonly id: string;

  constructor(
    private readonly model: string,
    private readonly host: string,
    readonly batchSize = 32,
  ) {
    this.id = `ollama:${model}@${host}`;
  }

  knownDimension(): undefined {
    return undefined;
  }

  async embedBatch(texts: string[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
    const url = joinUrl(this.host, "api/embed");
    const response = await postJson(
      url,
      { model: this.model, input: texts, truncate: true },
      {
        area: "embed",
        what: `Ollama embeddings (model "${this.model}")`,
        signal,
        unreachableHint:
          "start Ollama (`ollama serve`) or set OLLAMA_HOST (or rag.embedder.baseUrl) to where it listens",
        authHint: OLLAMA_AUTH_HINT,
        notFoundHint: `pull the model first: \`ollama pull ${this.model}\``,
      },
    );
    const json = await readJson<{ embeddings?: unknown }>(response, url, "embed");
    if (!Array.isArray(json.embeddings)) throw badResponse(url, "embed", "no `embeddings` array");
    return json.embeddings.map((v) => {
      if (!Array.isArray(v)) throw badResponse(url, "embed", "an embedding is not an array of numbers");
      return Float32Array.from(v as number[]);
    });
  }
}

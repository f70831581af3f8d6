// The models a server answers with, by id: chat models (any spec rag/llm runs, loaded on first use
// and kept), embedders (rag/embed's specs) and collections as models (`rag:COLLECTION`, answered by
// the pipeline's ask with the collection's embedder and the config's recipe). Failed loads are not
// kept, so a later request tries again.
import { configSection, type ResolvedConfig } from "../core/config.js";
import { isInfuseError } from "../core/errors.js";
import { collectionEmbedder, resolveChatModel, resolveEmbedder } from "../rag/pipeline/models.js";
import { mergeRecipes } from "../rag/recipe/recipe.js";
import { RecipeSchema, type Recipe } from "../rag/recipe/schema.js";
import { rerankerLoader } from "../rag/recipe/models.js";
import type { StoreProvider } from "../rag/store/index.js";
import type { ChatModel, Embedder } from "../rag/types.js";
import { httpError } from "./errors.js";

export type ModelKind = "chat" | "embedding" | "rag";

export interface ServedModel {
  id: string;
  kind: ModelKind;
}

const RAG = /^rag:(.+)$/;

export class ModelRegistry {
  private readonly chats = new Map<string, Promise<ChatModel>>();
  private readonly embedders = new Map<string, Promise<Embedder>>();
  /** Served ids that stand for another spec (`tuned:JOB` → engine:BASE+ADAPTER). */
  private readonly specs = new Map<string, string>();
  readonly served: ServedModel[];

  constructor(
    private readonly config: ResolvedConfig,
    private readonly store: StoreProvider,
    chatIds: readonly string[],
    embedderIds: readonly string[],
  ) {
    this.served = [
      ...chatIds.map((id) => ({ id, kind: (RAG.test(id) ? "rag" : "chat") as ModelKind })),
      ...embedderIds.map((id) => ({ id, kind: "embedding" as const })),
    ];
  }

  /** Serves a chat model under `id` from now on (a tuned adapter on its base, once its job is done). */
  serveAs(id: string, spec: string): ServedModel {
    if (!this.specs.has(id)) {
      this.specs.set(id, spec);
      this.served.push({ id, kind: "chat" });
    }
    return this.find(id, ["chat"]);
  }

  /** The served model with this id, of one of `kinds`; 404 naming `model` otherwise. */
  find(id: string, kinds: readonly ModelKind[]): ServedModel {
    const m = this.served.find((s) => s.id === id && kinds.includes(s.kind));
    if (m) return m;
    const ids = this.served.filter((s) => kinds.includes(s.kind)).map((s) => s.id);
    throw httpError(404, "model_not_found", `the model "${id}" is not served here`, {
      param: "model",
      hint: ids.length > 0 ? `use one of: ${ids.join(", ")}` : "start infuse serve with --model REF",
    });
  }

  /** A chat model, loaded once; a failed load is a 400 naming `model` (with why) and is tried again next time. */
  chat(id: string): Promise<ChatModel> {
    return this.cached(this.chats, id, async () => {
      const choice = await resolveChatModel(this.specs.get(id) ?? id, { config: this.config });
      if (!choice.model)
        throw httpError(400, "model_unavailable", choice.reason ?? `${id} could not be loaded`, {
          param: "model",
        });
      return choice.model;
    });
  }

  embedder(id: string): Promise<Embedder> {
    return this.cached(this.embedders, id, () => resolveEmbedder(id, { config: this.config }));
  }

  /** What an ask of `rag:COLLECTION` needs: the collection, its embedder, the answer model (`answerWith`, a served chat model, else the default) and the recipe. */
  async ragSetup(
    id: string,
    answerWith?: string,
  ): Promise<{ collection: string; embedder: Embedder; llm?: ChatModel; noLlmReason?: string; recipe: Recipe }> {
    const collection = RAG.exec(id)![1]!;
    const manifest = await this.store.requireManifest(collection);
    const embedder = await this.cached(this.embedders, `collection:${collection}:${manifest.embedder.id}`, () =>
      collectionEmbedder(manifest.embedder, undefined, { config: this.config }),
    );
    const llmId = answerWith !== undefined ? this.find(answerWith, ["chat"]).id : this.answerModel();
    let llm: ChatModel | undefined;
    let noLlmReason: string | undefined;
    if (llmId === undefined) noLlmReason = "no chat model is served and rag.llm is not set";
    else {
      try {
        llm = await this.chat(llmId);
      } catch (e) {
        if (!isInfuseError(e)) throw e;
        noLlmReason = e.message;
      }
    }
    return {
      collection,
      embedder,
      ...(llm ? { llm } : {}),
      ...(noLlmReason ? { noLlmReason } : {}),
      recipe: this.recipe(),
    };
  }

  /** The recipe a collection-as-model answers with: rag.topK < rag.retrieval, as `infuse ask` layers them. */
  recipe(): Recipe {
    return mergeRecipes(
      this.config.rag.topK !== undefined ? { top_k: this.config.rag.topK } : undefined,
      configSection(this.config, "rag.retrieval", RecipeSchema),
    );
  }

  loadReranker(signal?: AbortSignal): ReturnType<typeof rerankerLoader> {
    return rerankerLoader(this.config, signal);
  }

  /** The chat model `rag:` answers with: rag.llm when it is set (as a string), else the first served chat model. */
  private answerModel(): string | undefined {
    const llm = this.config.rag.llm;
    if (typeof llm === "string") return llm;
    if (llm !== undefined) return `${llm.provider}:${llm.model}${llm.adapter ? `+${llm.adapter}` : ""}`;
    return this.served.find((s) => s.kind === "chat")?.id;
  }

  private cached<T>(map: Map<string, Promise<T>>, id: string, load: () => Promise<T>): Promise<T> {
    let p = map.get(id);
    if (!p) {
      p = load();
      map.set(id, p);
      p.catch(() => map.delete(id));
    }
    return p;
  }

  async dispose(): Promise<void> {
    const all = [...this.chats.values(), ...this.embedders.values()];
    this.chats.clear();
    this.embedders.clear();
    await Promise.all(
      all.map(async (p) => {
        const m = await p.catch(() => undefined);
        await m?.dispose?.();
      }),
    );
  }
}

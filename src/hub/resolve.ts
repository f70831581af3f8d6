// Model resolution, used by every command that takes a model: a local path (a GGUF file or
// a model folder) or a hub reference, downloaded into the cache on first use.
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig } from "../core/config.js";
import { InfuseError } from "../core/errors.js";
import { limitsOf } from "../core/limits.js";
import type { TaskOptions } from "../core/progress.js";
import { HubCache } from "./cache.js";
import { hfCacheHas, hfCacheSnapshot } from "./hf-cache.js";
import { downloadFile } from "./download.js";
import { HubClient } from "./hub-client.js";
import { formatHubReference, isHubReference, parseHubReference, type HubReference } from "./reference.js";

export interface ResolvedModel {
  /** The reference as the user gave it. */
  ref: string;
  /** `gguf`: `path` is a .gguf file; `folder`: `path` is a folder of Hugging Face / ONNX files. */
  kind: "gguf" | "folder";
  path: string;
  /** Files in the folder (relative, POSIX separators), or the one GGUF file name. */
  files: string[];
}

export interface ResolveOptions extends TaskOptions {
  /** `limits` (downloadTimeoutMs, maxListingBytes) defaults to DEFAULT_LIMITS. */
  config: Pick<ResolvedConfig, "cacheDir" | "hub" | "limits">;
}

export async function resolveModel(ref: string, options: ResolveOptions): Promise<ResolvedModel> {
  return isHubReference(ref) ? resolveHubModel(ref, options) : resolveLocalModel(ref);
}

const MODEL_FILE = /(^|\/)(config\.json|tokenizer\.json|[^/]+\.safetensors|[^/]+\.onnx|[^/]+\.gguf)$/;

export async function resolveLocalModel(ref: string): Promise<ResolvedModel> {
  const full = path.resolve(ref);
  const info = await stat(full).catch(() => undefined);
  if (!info) {
    throw new InfuseError("model.not_found", `model "${ref}" not found: no such file or folder`, {
      kind: "not_found",
      hint: "name a .gguf file, a folder with config.json/tokenizer.json/*.safetensors/*.onnx, or hf:owner/repo[/file]",
    });
  }
  if (info.isFile()) {
    if (!full.toLowerCase().endsWith(".gguf")) {
      throw new InfuseError("model.unknown_format", `${full} is not a model infuse can load`, {
        kind: "usage",
        hint: "a model file must be .gguf; for safetensors or ONNX models name their folder instead",
      });
    }
    return { ref, kind: "gguf", path: full, files: [path.basename(full)] };
  }
  const files = await listFolder(full);
  if (!files.some((f) => MODEL_FILE.test(f))) {
    throw new InfuseError("model.empty_folder", `${full} has no model files`, {
      kind: "input",
      hint: "a model folder holds config.json, tokenizer.json, *.safetensors or onnx/*.onnx",
    });
  }
  return { ref, kind: "folder", path: full, files };
}

async function listFolder(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith(".")) continue;
    if (e.isDirectory()) for (const f of await listFolder(path.join(dir, e.name), `${prefix}${e.name}/`)) out.push(f);
    else out.push(prefix + e.name);
  }
  return out.sort();
}

/** Of a repo's files, those a model needs (configs, tokenizers, weights; one ONNX variant). */
export function selectModelFiles(files: string[]): string[] {
  const wanted = files.filter(
    (f) =>
      /(^|\/)(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|vocab\.txt|vocab\.json|merges\.txt|tokenizer\.model|modules\.json|sentence_bert_config\.json|adapter_config\.json)$/.test(
        f,
      ) ||
      /\.safetensors(\.index\.json)?$/.test(f) ||
      /\.onnx(_data)?$/.test(f),
  );
  // transformers.js repos ship many ONNX variants; take the plain fp32 one when it is there
  const onnx = wanted.filter((f) => /\.onnx$/.test(f));
  if (onnx.includes("onnx/model.onnx") && onnx.length > 1) {
    return wanted.filter((f) => !/\.onnx(_data)?$/.test(f) || f.startsWith("onnx/model.onnx"));
  }
  return wanted;
}

async function resolveHubModel(ref: string, options: ResolveOptions): Promise<ResolvedModel> {
  const hubRef = parseHubReference(ref);
  const cache = new HubCache(options.config.cacheDir);
  const client = new HubClient(options.config.hub.endpoint, options.config.hub.token, limitsOf(options.config));
  // a Hugging Face cache that already holds the model is used as it is, before any download
  const hf = await hfCacheSnapshot(options.config.hub.hfCacheDir, hubRef);
  if (hubRef.file !== undefined) {
    if (hf !== undefined && !(await cache.has(hubRef, hubRef.file)) && (await hfCacheHas(hf, hubRef.file))) {
      const file = hubRef.file;
      return file.toLowerCase().endsWith(".gguf")
        ? { ref, kind: "gguf", path: path.join(hf, ...file.split("/")), files: [file] }
        : { ref, kind: "folder", path: hf, files: [file] };
    }
    await fetchFile(hubRef, hubRef.file, cache, client, options);
    return singleFileModel(ref, hubRef, hubRef.file, cache);
  }
  let files = await cache.readManifest(hubRef);
  if (!files && hf !== undefined) {
    const present = selectModelFiles(await listFolder(hf));
    if (present.length > 0) return { ref, kind: "folder", path: hf, files: present };
  }
  if (!files) {
    if (options.config.hub.offline) throw offlineMissing(hubRef, cache);
    const all = await client.listFiles(hubRef.repo, hubRef.revision, options.signal).catch((e: unknown) => {
      throw (e as InfuseError).code === "hub.unreachable" ? offlineMissing(hubRef, cache, e) : e;
    });
    const ggufs = all.filter((f) => f.toLowerCase().endsWith(".gguf"));
    files = selectModelFiles(all);
    if (files.length === 0 && ggufs.length === 1) {
      await fetchFile(hubRef, ggufs[0]!, cache, client, options);
      return singleFileModel(ref, hubRef, ggufs[0]!, cache);
    }
    if (files.length === 0) {
      throw new InfuseError("hub.no_model_files", `${formatHubReference(hubRef)} has no model files infuse can load`, {
        kind: "input",
        hint:
          ggufs.length > 0
            ? `name one GGUF file, e.g. ${formatHubReference({ ...hubRef, file: ggufs[0] })}`
            : "infuse loads GGUF, safetensors and ONNX models",
        details: { files: all },
      });
    }
    for (const f of files) await fetchFile(hubRef, f, cache, client, options);
    await cache.writeManifest(hubRef, files);
  }
  return { ref, kind: "folder", path: cache.snapshotDir(hubRef), files };
}

function singleFileModel(ref: string, hubRef: HubReference, file: string, cache: HubCache): ResolvedModel {
  return file.toLowerCase().endsWith(".gguf")
    ? { ref, kind: "gguf", path: cache.filePath(hubRef, file), files: [file] }
    : { ref, kind: "folder", path: cache.snapshotDir(hubRef), files: [file] };
}

async function fetchFile(
  hubRef: HubReference,
  file: string,
  cache: HubCache,
  client: HubClient,
  options: ResolveOptions,
): Promise<void> {
  if (await cache.has(hubRef, file)) return;
  if (options.config.hub.offline) throw offlineMissing({ ...hubRef, file }, cache);
  const info = await client.fileInfo(hubRef.repo, hubRef.revision, file, options.signal).catch((e: unknown) => {
    throw (e as InfuseError).code === "hub.unreachable" ? offlineMissing({ ...hubRef, file }, cache, e) : e;
  });
  await downloadFile(info.url, cache.filePath(hubRef, file), cache.partPath(hubRef, file), info, {
    http: client,
    task: `download ${file}`,
    maxBytes: limitsOf(options.config).maxDownloadBytes,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

function offlineMissing(hubRef: HubReference, cache: HubCache, cause?: unknown): InfuseError {
  const what = formatHubReference(hubRef);
  return new InfuseError("hub.offline_missing", `${what} is not in the cache and the hub cannot be reached`, {
    kind: "not_found",
    hint:
      `connect to the network and run \`infuse pull ${what}\` (set HF_ENDPOINT for a mirror), ` +
      `or copy the files into ${cache.snapshotDir(hubRef)}, or use a local path instead`,
    cause,
  });
}

// A folder (or one file) as a source stream: files walked lazily in path order, media type from
// the extension, bytes read only when ingest asks. A folder's stream syncs its root once the walk
// has finished; a single file never removes its neighbours.
import path from "node:path";
import { mediaTypeForName, readBytes, walkFiles, walkRoot, type WalkOptions } from "../load/index.js";
import type { Source, SourceStream } from "./types.js";

class FolderSource implements SourceStream {
  syncRoot: string | undefined;
  readonly #target: string;
  readonly #options: WalkOptions;

  constructor(target: string, options: WalkOptions) {
    this.#target = target;
    this.#options = options;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Source> {
    this.syncRoot = undefined;
    const { root, folder } = await walkRoot(this.#target);
    for await (const f of walkFiles(this.#target, this.#options)) {
      yield {
        key: f.source,
        mediaType: mediaTypeForName(f.file),
        bytes: () => readBytes(f.file, f.source),
        root,
        size: f.size,
      };
    }
    if (folder) this.syncRoot = root;
  }
}

/** The files under `target` (or the one file it names) as sources keyed by relative path. */
export function folderSource(target: string, options: WalkOptions = {}): SourceStream {
  return new FolderSource(path.resolve(target), options);
}

// A session's large quantized initializers written to a temporary file that onnxruntime reads as
// external data (OnnxExternal), instead of bytes encoded into the model. From encoded bytes onnxruntime
// makes two heap copies of every initializer before it prepacks them (a parsed protobuf, then a tensor),
// and glibc keeps the space they leave among the prepacked weights that stay; from a file it maps the
// bytes, prepacks, and lets the mapping go. SmolLM-135M Q8_0, bench child: peak RSS while the sessions
// are built 404–412 → ~340 MB, and the malloc heap after it 145–150 → 59 MB.
//
// Only the quantized blocks go to the file: MatMulNBits keeps its scales initializer next to the packed
// copy, and a kept mapping would hold the deleted file's disk (or, where the temp folder is tmpfs, its
// memory) for the life of the session. The file is deleted as soon as the session is built. Where no
// temp folder can be written (read-only, full), the model is encoded in memory as before.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { OnnxExternal, OnnxFill } from "./onnx-model.js";
import { dropBuffer, droppableBytes } from "../droppable.js";

const FILE = "initializers.bin";
/** Offsets are aligned so that onnxruntime's mapping of each initializer starts on a page. */
const ALIGN = 4096;

export class InitializerFile {
  private fd: number;
  private at = 0;

  private constructor(readonly folder: string) {
    this.fd = openSync(path.join(folder, FILE), "w");
  }

  /** A new empty file in a fresh folder under the OS temp folder, or null where none can be made. */
  static create(): InitializerFile | null {
    let folder: string | undefined;
    try {
      folder = mkdtempSync(path.join(os.tmpdir(), "infuse-init-"));
      return new InitializerFile(folder);
    } catch {
      if (folder) rmSync(folder, { recursive: true, force: true });
      return null;
    }
  }

  /** Appends the bytes of `data` and returns where they lie, for an initializer's `data`. */
  put(data: OnnxFill | Uint8Array): OnnxExternal {
    this.at = Math.ceil(this.at / ALIGN) * ALIGN;
    const offset = this.at;
    const fill = data instanceof Uint8Array ? null : data;
    // a fill writes its whole array at once: into a buffer returned as soon as it is written out
    const bytes = fill ? droppableBytes(fill.byteLength) : (data as Uint8Array);
    try {
      fill?.write(bytes);
      for (let done = 0; done < bytes.byteLength;)
        done += writeSync(this.fd, bytes, done, bytes.byteLength - done, offset + done);
    } finally {
      if (fill) dropBuffer(bytes.buffer);
    }
    this.at += data.byteLength;
    return { file: FILE, offset, byteLength: data.byteLength };
  }

  /** Closes the file (before onnxruntime reads it). */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /**
   * Closes and deletes the file and its folder (once the session holds its copy). Where the system
   * refuses while something still maps it (Windows), it is deleted when the process exits.
   */
  remove(): void {
    this.close();
    const folder = this.folder;
    try {
      rmSync(folder, { recursive: true, force: true });
    } catch {
      process.once("exit", () => rmSync(folder, { recursive: true, force: true }));
    }
  }
}

/** Node's errors for a file that cannot be written: the caller falls back to encoding in memory. */
export function isWriteFailure(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && ["ENOSPC", "EDQUOT", "EIO", "EROFS", "EACCES", "EPERM", "EFBIG"].includes(code);
}

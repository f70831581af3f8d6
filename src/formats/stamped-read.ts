// Reading a file's bytes again, synchronously, after what was loaded from it was dropped (a kernel holds
// its own copy): only from the very file it was loaded from, known by its size and mtime (its stamp).
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { InfuseError } from "../core/errors.js";

/** The file's size and mtime, to tell later whether it is still the one read. */
export function fileStamp(file: string): string {
  const st = statSync(file);
  return `${st.size}:${st.mtimeMs}`;
}

/** `model.file_changed` where `file` is not the one (size, mtime) `stamp` was taken of; `name` is what was read. */
export function checkStamp(file: string, stamp: string, name: string): void {
  let now: string | undefined;
  try {
    now = fileStamp(file);
  } catch {
    now = undefined;
  }
  if (now !== stamp) {
    throw new InfuseError(
      "model.file_changed",
      `${file}: changed or removed since it was loaded; ${name} cannot be read again`,
      {
        kind: "input",
        hint: "load the model (or adapter) again (its weights are read from the file again when onnxruntime builds its graphs or a backward pass needs them)",
        details: { file, tensor: name },
      },
    );
  }
}

/** `size` bytes at `offset` of `file` into `out`, after checkStamp. */
export function readStamped(
  file: string,
  stamp: string,
  offset: number,
  size: number,
  name: string,
  out: Uint8Array,
): Uint8Array {
  checkStamp(file, stamp, name);
  const fd = openSync(file, "r");
  try {
    for (let got = 0; got < size;) {
      const n = readSync(fd, out, got, size - got, offset + got);
      if (n === 0) throw new InfuseError("model.file_changed", `${file}: ${name} ends early`, { kind: "input" });
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

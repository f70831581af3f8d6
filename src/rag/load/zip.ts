// Zip bombs, checked before a DOCX is expanded: the central directory's entry count and sizes,
// entries that overlap (one compressed stream counted many times), and then every entry is
// inflated once here with node:zlib under `limits.maxDecompressedBytes`, since a zip can lie
// about its sizes. Leaves out zip64, encryption and methods other than stored and deflate.
import { inflateRawSync } from "node:zlib";
import { InfuseError } from "../../core/errors.js";

/** More entries than any document needs (a DOCX has tens). */
export const ZIP_MAX_ENTRIES = 10_000;

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

interface Entry {
  name: string;
  method: number;
  compressed: number;
  size: number;
  offset: number;
}

function bad(source: string, why: string): InfuseError {
  return new InfuseError("rag.docx_unreadable", `${source}: not a readable DOCX (${why})`, { kind: "input" });
}

function tooLarge(source: string, what: string, max: number): InfuseError {
  return new InfuseError(
    "rag.decompressed_too_large",
    `${source}: ${what}, more than limits.maxDecompressedBytes (${max})`,
    {
      kind: "input",
      hint: "a compressed document this large is likely a zip bomb; raise limits.maxDecompressedBytes if you trust it",
      details: { limit: "limits.maxDecompressedBytes", max },
    },
  );
}

function centralDirectory(bytes: Uint8Array, source: string): Entry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad(source, "no zip end record");
  const count = view.getUint16(eocd + 10, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdOffset === 0xffffffff) throw bad(source, "zip64 archives are not read");
  if (count > ZIP_MAX_ENTRIES) throw bad(source, `${count} zip entries, more than ${ZIP_MAX_ENTRIES}`);
  const entries: Entry[] = [];
  let at = cdOffset;
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL) throw bad(source, "a damaged zip directory");
    const nameLength = view.getUint16(at + 28, true);
    const skip = nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    if (view.getUint16(at + 8, true) & 1) throw bad(source, "an encrypted zip");
    entries.push({
      method: view.getUint16(at + 10, true),
      compressed: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      offset: view.getUint32(at + 42, true),
      name: Buffer.from(bytes.subarray(at + 46, at + 46 + nameLength)).toString("utf8"),
    });
    at += 46 + skip;
  }
  return entries;
}

/**
 * Checks a DOCX (zip) before mammoth expands it: the sizes its directory declares, no two
 * entries sharing compressed bytes, and the real inflated size of every entry, against `maxBytes`.
 */
export function checkZipBomb(bytes: Uint8Array, source: string, maxBytes: number): void {
  const entries = centralDirectory(bytes, source);
  const declared = entries.reduce((sum, e) => sum + e.size, 0);
  if (declared > maxBytes) throw tooLarge(source, `its entries declare ${declared} bytes`, maxBytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const spans = entries.map((e) => {
    if (e.offset + 30 > bytes.length || view.getUint32(e.offset, true) !== LOCAL)
      throw bad(source, `entry ${e.name} is damaged`);
    const start = e.offset + 30 + view.getUint16(e.offset + 26, true) + view.getUint16(e.offset + 28, true);
    if (start + e.compressed > bytes.length) throw bad(source, `entry ${e.name} runs past the file`);
    return { entry: e, start, end: start + e.compressed };
  });
  const sorted = [...spans].sort((a, b) => a.entry.offset - b.entry.offset);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.entry.offset < sorted[i - 1]!.end) throw bad(source, "zip entries overlap (a zip bomb)");
  }
  let inflated = 0;
  for (const { entry, start, end } of spans) {
    const data = bytes.subarray(start, end);
    let size: number;
    if (entry.method === 0) size = data.length;
    else if (entry.method === 8) {
      try {
        // at most one byte past what is left: enough to know the limit is crossed
        size = inflateRawSync(data, { maxOutputLength: Math.max(1, maxBytes - inflated + 1) }).length;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
          throw tooLarge(source, `entry ${entry.name} inflates past the limit`, maxBytes);
        }
        throw bad(source, `entry ${entry.name} does not inflate`);
      }
    } else throw bad(source, `entry ${entry.name} uses zip method ${entry.method}`);
    if (size !== entry.size)
      throw bad(source, `entry ${entry.name} inflates to ${size} bytes, not the ${entry.size} it declares`);
    inflated += size;
    if (inflated > maxBytes) throw tooLarge(source, `its entries inflate to more than ${inflated} bytes`, maxBytes);
  }
}

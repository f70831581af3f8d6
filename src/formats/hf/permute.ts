// The Q/K row permutation between Hugging Face's rotary layout (halves: rows [0, d/2) pair with
// [d/2, d) in each head) and GGUF llama's interleaved layout (rows 2i, 2i+1 pair), as
// convert_hf_to_gguf.py's `permute` does. Leaves out NeoX-rope models, which need none.

/**
 * HF → GGUF: `w` is row-major [rows, cols] with rows = heads * headDim. GGUF row h*d + 2i + j
 * takes HF row h*d + j*(d/2) + i.
 */
export function permuteQK(w: Float32Array, rows: number, heads: number): Float32Array {
  return moveRows(w, rows, heads, false);
}

/** GGUF → HF: the inverse of `permuteQK`. */
export function unpermuteQK(w: Float32Array, rows: number, heads: number): Float32Array {
  return moveRows(w, rows, heads, true);
}

function moveRows(w: Float32Array, rows: number, heads: number, inverse: boolean): Float32Array {
  const cols = w.length / rows;
  const d = rows / heads;
  const half = d / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const gguf = h * d + 2 * i + j;
        const hf = h * d + j * half + i;
        const [to, from] = inverse ? [hf, gguf] : [gguf, hf];
        out.set(w.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

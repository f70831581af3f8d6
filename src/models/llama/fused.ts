// Fused onnxruntime graphs decode.ts uses for prompt chunks, where a native call beats TypeScript loops:
// grouped-query attention (MatMul, scale, additive mask, Softmax, MatMul over every kv head) and SwiGLU.
// Shapes: Hkv kv heads, G = H/Hkv, T new tokens, S keys, D head size, F ffn.
import { ortAvailable, runOnnxModel } from "../../tensor/index.js";
import { encodeOnnxModel } from "../../tensor/kernels/onnx-model.js";

/** Below this many scores (Hkv·G·T·S) the TypeScript loops in decode.ts are faster. */
export const FUSED_MIN_SCORES = 64 * 1024;

function attentionGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      { name: "Q", type: "float", dims: ["h", "m", "d"] },
      { name: "K", type: "float", dims: ["h", "s", "d"] },
      { name: "V", type: "float", dims: ["h", "s", "d"] },
      { name: "M", type: "float", dims: ["m", "s"] },
      { name: "scale", type: "float", dims: [1] },
    ],
    outputs: [{ name: "Y", type: "float", dims: ["h", "m", "d"] }],
    nodes: [
      { op: "Transpose", inputs: ["K"], outputs: ["Kt"], attributes: [{ name: "perm", ints: [0, 2, 1] }] },
      { op: "MatMul", inputs: ["Q", "Kt"], outputs: ["S0"] }, // (Hkv, G·T, S)
      { op: "Mul", inputs: ["S0", "scale"], outputs: ["S1"] },
      { op: "Add", inputs: ["S1", "M"], outputs: ["S2"] },
      { op: "Softmax", inputs: ["S2"], outputs: ["P"], attributes: [{ name: "axis", int: -1 }] },
      { op: "MatMul", inputs: ["P", "V"], outputs: ["Y"] }, // (Hkv, G·T, D)
    ],
  });
}

/** Below this many values the SwiGLU loop in TypeScript is faster. */
export const FUSED_MIN_FFN = 16 * 1024;

function swigluGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      { name: "G", type: "float", dims: ["n"] },
      { name: "U", type: "float", dims: ["n"] },
    ],
    outputs: [{ name: "Y", type: "float", dims: ["n"] }],
    nodes: [
      { op: "Sigmoid", inputs: ["G"], outputs: ["S"] },
      { op: "Mul", inputs: ["G", "S"], outputs: ["A"] },
      { op: "Mul", inputs: ["A", "U"], outputs: ["Y"] },
    ],
  });
}

/** out = silu(gate)·up elementwise, (T·F) values; written into the caller's buffer (no per-layer garbage). */
export function fusedSwiglu(gate: Float32Array, up: Float32Array, out: Float32Array): Float32Array {
  const n = [gate.length];
  runOnnxModel(
    "llama-swiglu",
    swigluGraph,
    { G: { data: gate, dims: n }, U: { data: up, dims: n } },
    { Y: { data: out.subarray(0, gate.length), dims: n } },
  );
  return out.subarray(0, gate.length);
}

export function fusedAvailable(): boolean {
  return ortAvailable();
}

/**
 * softmax(q·kᵀ·scale + mask)·v. q (Hkv, G·T, D) with a group's heads adjacent, k and v (Hkv, S, D),
 * mask (G·T, S) additive (0 or −∞; every row keeps at least one key). Writes (Hkv, G·T, D) into `out`.
 */
export function fusedAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  mask: Float32Array,
  dims: { kvHeads: number; rows: number; keys: number; headDim: number; scale: number },
  out: Float32Array,
): Float32Array {
  const { kvHeads: h, rows: m, keys: s, headDim: d } = dims;
  const y = out.subarray(0, h * m * d);
  runOnnxModel(
    "llama-attention",
    attentionGraph,
    {
      Q: { data: q, dims: [h, m, d] },
      K: { data: k, dims: [h, s, d] },
      V: { data: v, dims: [h, s, d] },
      M: { data: mask, dims: [m, s] },
      scale: { data: Float32Array.of(dims.scale), dims: [1] },
    },
    { Y: { data: y, dims: [h, m, d] } },
  );
  return y;
}

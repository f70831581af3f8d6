// RMSNorm (Llama) and LayerNorm (BERT) over the last dim, fused: forward keeps the per-row inverse
// std and backward uses the closed form. The TypeScript loops accumulate statistics in float64;
// large RMSNorms run as onnxruntime graphs (norm-ort.ts) instead.
import { alloc } from "../arena.js";
import { isGradEnabled, Tensor, withGrad } from "../tensor.js";
import { shapeError } from "../shape.js";
import { fastPathFor } from "../kernels/kernel.js";
import { ortLayerNorm, ortLayerNormBackward, ortRmsNorm, ortRmsNormBackward } from "../kernels/norm-ort.js";

function checkParam(op: string, x: Tensor, p: Tensor | null, name: string): void {
  const d = x.shape[x.ndim - 1];
  if (p && (p.ndim !== 1 || p.shape[0] !== d)) {
    throw shapeError(
      op,
      `${name} must be (${d}) for input's last dim`,
      [x.shape, p.shape],
      `pass a 1-D ${name} of the hidden size`,
    );
  }
}

/** Below this many values RMSNorm stays in TypeScript (an onnxruntime call costs tens of µs). */
export const RMSNORM_MIN_VALUES = 16 * 1024;

/**
 * y = x / sqrt(mean(x²) + eps) · weight. x (…, D), weight (D). Large inputs run as onnxruntime graphs;
 * the weight's gradient is computed only when it requires grad (a frozen base's norms do not).
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-5): Tensor {
  checkParam("rmsNorm", x, weight, "weight");
  const d = weight.size;
  const rows = x.size / d;
  const xd = x.data;
  const w = weight.data;
  const y = alloc(x.size);
  const inv = alloc(rows); // (N)
  const ort = fastPathFor(x.size, RMSNORM_MIN_VALUES) === "ort";
  if (ort) ortRmsNorm(xd, w, eps, y, inv);
  else rmsNormRows(xd, w, eps, y, inv);
  const needW = weight.requiresGrad;
  return withGrad(new Tensor(y, x.shape), "rmsNorm", [x, weight], (g) => {
    const gx = alloc(xd.length);
    const gw = needW ? new Float32Array(d) : null;
    if (ort) ortRmsNormBackward(g, xd, w, inv, gx, gw);
    else rmsNormRowsBackward(g, xd, w, inv, gx, gw);
    return [gx, gw];
  });
}

function rmsNormRows(x: Float32Array, w: Float32Array, eps: number, y: Float32Array, inv: Float32Array): void {
  const d = w.length;
  for (let r = 0; r < inv.length; r++) {
    let ss = 0; // float64
    for (let j = 0; j < d; j++) ss += x[r * d + j]! * x[r * d + j]!;
    const ir = 1 / Math.sqrt(ss / d + eps);
    inv[r] = ir;
    for (let j = 0; j < d; j++) y[r * d + j] = x[r * d + j]! * ir * w[j]!;
  }
}

/** The closed form: dx = ir·(g·w − x̂·mean(g·w·x̂)), dw = Σ_rows g·x̂. */
function rmsNormRowsBackward(
  g: Float32Array,
  x: Float32Array,
  w: Float32Array,
  inv: Float32Array,
  gx: Float32Array,
  gw: Float32Array | null,
): void {
  const d = w.length;
  for (let r = 0; r < inv.length; r++) {
    const ir = inv[r]!;
    let dot = 0; // Σ (g·w)·x̂
    for (let j = 0; j < d; j++) dot += g[r * d + j]! * w[j]! * x[r * d + j]! * ir;
    dot /= d;
    for (let j = 0; j < d; j++) gx[r * d + j] = ir * (g[r * d + j]! * w[j]! - x[r * d + j]! * ir * dot);
    if (gw) for (let j = 0; j < d; j++) gw[j]! += g[r * d + j]! * x[r * d + j]! * ir;
  }
}

/** Below this many values LayerNorm stays in TypeScript. */
export const LAYERNORM_MIN_VALUES = 16 * 1024;

/** y = (x − mean) / sqrt(var + eps) · weight + bias over the last dim; large inputs run as onnxruntime graphs. */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null, eps = 1e-5): Tensor {
  checkParam("layerNorm", x, weight, "weight");
  checkParam("layerNorm", x, bias, "bias");
  const d = weight.size;
  const rows = x.size / d;
  const xd = x.data;
  const w = weight.data;
  const b = bias?.data;
  const y = new Float32Array(x.size);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const [size, hasBias] = [x.size, bias !== null];
  if (fastPathFor(x.size, LAYERNORM_MIN_VALUES) === "ort") {
    // onnxruntime: x̂ and the inverse std are kept only when a backward pass can follow
    const track = isGradEnabled() && inputs.some((t) => t.requiresGrad);
    const keep = track ? { xhat: new Float32Array(x.size), inv: new Float32Array(rows) } : null;
    ortLayerNorm(xd, w, b ?? new Float32Array(d), eps, y, keep);
    return withGrad(new Tensor(y, x.shape), "layerNorm", inputs, (g) => {
      const [gx, gw, gb] = [new Float32Array(size), new Float32Array(d), new Float32Array(d)];
      ortLayerNormBackward(g, keep!.xhat, w, keep!.inv, gx, gw, gb);
      return hasBias ? [gx, gw, gb] : [gx, gw];
    });
  }
  const xhat = new Float32Array(x.size); // (N, D) kept for backward
  const inv = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let mu = 0;
    for (let j = 0; j < d; j++) mu += xd[r * d + j]!;
    mu /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (xd[r * d + j]! - mu) ** 2;
    const ir = 1 / Math.sqrt(v / d + eps);
    inv[r] = ir;
    for (let j = 0; j < d; j++) {
      const xh = (xd[r * d + j]! - mu) * ir;
      xhat[r * d + j] = xh;
      y[r * d + j] = xh * w[j]! + (b ? b[j]! : 0);
    }
  }
  return withGrad(new Tensor(y, x.shape), "layerNorm", inputs, (g) => {
    const gx = new Float32Array(size);
    const gw = new Float32Array(d);
    const gb = new Float32Array(d);
    for (let r = 0; r < rows; r++) {
      let mean1 = 0; // mean of dx̂
      let mean2 = 0; // mean of dx̂·x̂
      for (let j = 0; j < d; j++) {
        const gr = g[r * d + j]!;
        const dxh = gr * w[j]!;
        mean1 += dxh;
        mean2 += dxh * xhat[r * d + j]!;
        gw[j]! += gr * xhat[r * d + j]!;
        gb[j]! += gr;
      }
      mean1 /= d;
      mean2 /= d;
      for (let j = 0; j < d; j++) {
        gx[r * d + j] = inv[r]! * (g[r * d + j]! * w[j]! - mean1 - xhat[r * d + j]! * mean2);
      }
    }
    return hasBias ? [gx, gw, gb] : [gx, gw];
  });
}

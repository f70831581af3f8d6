// The tensor engine's API for the layers above (models/, train/): re-exports only.
export {
  Tensor,
  noGrad,
  isGradEnabled,
  withGrad,
  type GradFn,
  type BackwardOptions,
  type TensorReloader,
} from "./tensor.js";
export { numel, shapeStr, broadcastShapes, reduceToShape } from "./shape.js";
export { Rng, randn } from "./rng.js";
export { alloc, allocZeroed, arenaScope, clearArena } from "./arena.js";
export { gradcheck, type GradcheckOptions, type GradcheckResult } from "./gradcheck.js";
export { add, sub, mul, div, exp, log, sqrt, rsqrt, neg, scale, addScalar, square, relu } from "./ops/elementwise.js";
export { sum, mean, max, type ReduceOptions } from "./ops/reduce.js";
export { reshape, permute, transpose, slice, concat } from "./ops/layout.js";
export { embedding, scatterAdd, scatterAddRows } from "./ops/gather.js";
export { matmul, mm, type MatmulOptions } from "./ops/matmul.js";
export { lowRankLinear } from "./ops/low-rank-linear.js";
export { softmax, logSoftmax, crossEntropy, type CrossEntropyOptions } from "./ops/softmax.js";
export { linearCrossEntropy, type LinearCrossEntropyOptions } from "./ops/linear-cross-entropy.js";
export { rmsNorm, layerNorm } from "./ops/norm.js";
export { gelu, silu, sigmoid, swiglu, erf, type GeluApproximation } from "./ops/activation.js";
export { rope, ropeInvFreq, llama3InvFreq, type Llama3Scaling, type RopeLayout, type RopeOptions } from "./ops/rope.js";
export { attention, causalMask, paddingMask, type AttentionOptions, type HeadOrder } from "./ops/attention.js";
export { dropout } from "./ops/dropout.js";
export { addLayerNorm, fusedLinear, packedAttention } from "./ops/encoder.js";
export { QuantTensor, quantize, CODECS, type QuantType } from "./quant/formats.js";
export { qmatmulRaw, qmatmulTiled, releaseQuantKernel } from "./quant/qmatmul.js";
export {
  qmatmul,
  dequantized,
  dequantCacheable,
  dropDequantCache,
  setDequantCacheValues,
} from "./quant/qmatmul-train.js";
export { qembedding } from "./quant/qembedding.js";
export { f16ToF32, f32ToF16, bf16ToF32, f32ToBf16 } from "./quant/half.js";
export { NF4_LEVELS } from "./quant/blocks.js";
export { matmulKernel, matmulPathFor, setMatmulPath, type MatmulDims, type MatmulPath } from "./kernels/kernel.js";
export {
  encodeOnnxModel,
  type OnnxModelSpec,
  type OnnxNode,
  type OnnxAttribute,
  type OnnxValueInfo,
  type OnnxInitializer,
} from "./kernels/onnx-model.js";
export { runOnnxModel, ortAvailable, ortGraph, type OrtGraph, type OrtValue } from "./kernels/ort.js";
export { Optimizer, type OptimizerState } from "./optim/optimizer.js";
export { AdamW, type AdamWOptions } from "./optim/adamw.js";
export { Sgd, type SgdOptions } from "./optim/sgd.js";
export { linearSchedule, cosineSchedule, type Schedule, type ScheduleOptions } from "./optim/schedule.js";
export { clipGradNorm, GradAccumulation } from "./optim/grads.js";

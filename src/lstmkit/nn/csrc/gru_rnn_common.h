// lstmkit fused CPU kernels, GRU / RNN family: the helpers of this extension beyond the ones
// every family shares.  Included by gru_rnn_fused.cpp.
//
//   * fused_common.h (included here): BLAS binding (MKL sgemm_ / packed GEMMs via dlsym, at::mm
//     fallback), PackedB, ThreadScope / run_threads / barrier / parallel_chunks (the fixed work
//     partition that makes results bitwise identical whatever the number of threads), the
//     vectorized exp / sigmoid / tanh, Blocks, PhaseTimer, and the oneDNN brgemm path
//     (LSTMKIT_FUSED_BRGEMM=1, the default on AMD CPUs: PackedB, gemm_tn), as in the LSTM
//     extension.
//   * big_gemm_rows: a (T*N)-row GEMM cut into fixed row chunks.
// Namespace lstmkit_gr keeps this extension's code apart from the other families'.

#pragma once

#define LSTMKIT_WITH_BRGEMM 1  // this family has the oneDNN brgemm path too (fused_common.h)
#include "fused_common.h"

namespace lstmkit_gr {

using namespace lstmkit::common;

// C(R, Nc) = A(R, K) op(W), op(W) = W^T (W stored (Nc, K)) or W (stored (K, Nc)), in fixed
// row chunks (gemm_row_chunks, fused_common.h); on the MKL path op(W) is packed once and
// shared by the full chunks.  Jobs under 4 MFLOP stay on one thread.
static void big_gemm_rows(int64_t R, int Nc, int K, const float* A, int lda, const float* W,
                          int ldw, bool transW, float* C, int ldc, ErrorSlot* err) {
  gemm_row_chunks([](int64_t n) { return pooled_empty({n}, at::TensorOptions().dtype(at::kFloat)); }, 2.0 * R * Nc * K, R, Nc, K, A, lda, W,
                  ldw, transW, C, ldc, err);
}

}  // namespace lstmkit_gr

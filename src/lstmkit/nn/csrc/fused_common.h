// lstmkit fused CPU kernels: the helpers shared by every kernel family.
//
// Included by lstm_fused.cpp (LSTM, and through it lstm_variants.h), gru_rnn_common.h (GRU /
// RNN: gru_rnn_fused.cpp) and lstm_step.cpp (the streaming step).  Each family is compiled
// into its own shared library (lstmkit/nn/fused/build.py; this header is part of every
// family's cache key), so nothing here is shared at link time: free functions are
// `static inline`, the rest is inline class members, and the namespace has hidden visibility,
// so no two libraries ever bind to each other's copies.
//
// Contents (namespace lstmkit::common; the families pull it in with `using namespace`):
//   * BLAS binding: MKL's sgemm_ / cblas_sgemm_pack / cblas_sgemm_compute and
//     MKL_Set_Num_Threads_Local resolved with dlsym from libtorch_cpu; at::mm when they are
//     absent (LSTMKIT_FUSED_BLAS=0|1|2 forces a path).  Blas, blas(), gemm, set_blas_mode.
//   * PackedB: a right-hand operand prepared once (MKL packed format, or the opt-in oneDNN
//     brgemm ukernel) for repeated products.  The brgemm path is compiled in only where
//     LSTMKIT_WITH_BRGEMM is defined before this header is included (lstm_fused.cpp); the
//     other families never probe or use it.
//   * ErrorSlot, ThreadScope (denormals flushed, MKL single-threaded inside our threads),
//     run_team / run_threads (one parallel region on torch's OpenMP pool), barrier,
//     SpinBarrier (for phases of microseconds), parallel_chunks, own_ranges / run_owned (chunks owned per thread, then shared): the
//     fixed work partition that makes results bitwise identical whatever the number of threads.
//   * Vectorized float32 math: the vf / vi vector types (VW = 16 lanes with AVX-512, else 8;
//     -DLSTMKIT_VW8 forces 8), splat / ld / st, masked ldn / stn, vexp, vrcp, vsigmoid, vtanh,
//     hsum, row_stats (a layer norm's mean and 1/std).  Every family uses these same functions.
//   * Blocks: the hidden-unit blocks (fixed by H only) behind the block layout of the gate
//     rows (LSTM and GRU / RNN), from_block_rows.
//   * gemm_row_chunks: the big (T*N)-row GEMMs cut into fixed row chunks (and their
//     constants).
//   * PhaseTimer (LSTMKIT_FUSED_PROFILE), kernel_info (the info() line).
//   * BigPool / PoolAllocator / pooled_empty: the large-buffer pool (one per family library)
//     behind the kernels' scratch, saved buffers, outputs and gradients.

#pragma once

#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <ATen/EmptyTensor.h>
#include <c10/core/CPUAllocator.h>
#ifdef LSTMKIT_WITH_BRGEMM
#include <ATen/native/CPUBlas.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <map>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>
#include <mutex>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LSTMKIT_X86 1
#endif

namespace lstmkit {
namespace common __attribute__((visibility("hidden"))) {

// ---------------------------------------------------------------------------------------
// BLAS binding, resolved at load time with dlsym (MKL symbols exported by libtorch_cpu on
// x86 wheels).  Falls back to at::mm when absent (e.g. aarch64 wheels).
// ---------------------------------------------------------------------------------------
using sgemm_fn = void (*)(const char*, const char*, const int*, const int*, const int*,
                          const float*, const float*, const int*, const float*, const int*,
                          const float*, float*, const int*);
using pack_size_fn = size_t (*)(int, int, int, int);
using pack_fn = void (*)(int, int, int, int, int, int, float, const float*, int, float*);
using compute_fn = void (*)(int, int, int, int, int, int, const float*, int, const float*, int,
                            float, float*, int);
using mkl_threads_local_fn = int (*)(int);

enum { kRowMajor = 101, kNoTrans = 111, kTrans = 112, kPacked = 151, kAMatrix = 161, kBMatrix = 162 };

struct Blas {
  sgemm_fn sgemm = nullptr;
  pack_size_fn pack_size = nullptr;
  pack_fn pack = nullptr;
  compute_fn compute = nullptr;
  mkl_threads_local_fn threads_local = nullptr;  // MKL_Set_Num_Threads_Local (by value; the
                                                 // lower-case mkl_set_num_threads_local is Fortran, by pointer)
  int mode = 0;  // 0: packed MKL, 1: plain sgemm_, 2: at::mm fallback
  int detected = 2;
  bool brg_ok = false;  // at::native::cpublas::brgemm (oneDNN JIT ukernel) works for float
                        // (probed only with LSTMKIT_WITH_BRGEMM)
  bool brg = false;     // use it for the repeated-operand GEMMs (PackedB)
};

static inline Blas& blas() {
  static Blas b;
  static std::once_flag once;
  std::call_once(once, [] {
    void* handle = nullptr;
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&at::get_num_threads), &info) && info.dli_fname)
      handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    auto sym = [&](const char* name) -> void* {
      void* p = handle ? dlsym(handle, name) : nullptr;
      return p ? p : dlsym(RTLD_DEFAULT, name);
    };
    b.sgemm = reinterpret_cast<sgemm_fn>(sym("sgemm_"));
    b.pack_size = reinterpret_cast<pack_size_fn>(sym("cblas_sgemm_pack_get_size"));
    b.pack = reinterpret_cast<pack_fn>(sym("cblas_sgemm_pack"));
    b.compute = reinterpret_cast<compute_fn>(sym("cblas_sgemm_compute"));
    b.threads_local = reinterpret_cast<mkl_threads_local_fn>(sym("MKL_Set_Num_Threads_Local"));
    if (b.sgemm && b.pack_size && b.pack && b.compute) b.detected = 0;
    else if (b.sgemm) b.detected = 1;
    else b.detected = 2;
    b.mode = b.detected;
    if (const char* e = std::getenv("LSTMKIT_FUSED_BLAS")) {
      int m = std::atoi(e);
      if (m >= b.detected && m <= 2) b.mode = m;
    }
#ifdef LSTMKIT_WITH_BRGEMM
    try {  // oneDNN brgemm ukernel: x86 with AVX-512 (or AVX2 in newer oneDNN); throws elsewhere
      float A[16], B[16 * 16], C[16 * 16];
      for (int i = 0; i < 16; ++i) A[i] = 1.f;
      for (int i = 0; i < 256; ++i) B[i] = (float)(i % 7);
      at::native::cpublas::brgemm(1, 16, 16, 16, 16, 16, false, A, B, C, false);
      bool good = true;
      for (int j = 0; j < 16; ++j) {
        float ref = 0.f;
        for (int k = 0; k < 16; ++k) ref += B[k * 16 + j];
        good = good && C[j] == ref;
      }
      b.brg_ok = good;
    } catch (...) {
      b.brg_ok = false;
    }
    // Opt-in (LSTMKIT_FUSED_BRGEMM=1): with 2 threads MKL measured as fast or faster here.
    const char* e = std::getenv("LSTMKIT_FUSED_BRGEMM");
    b.brg = b.brg_ok && e && std::string(e) == "1";
#endif
  });
  return b;
}

// Select the GEMM path at run time (for tests): 0 packed, 1 sgemm, 2 at::mm; clamped to
// what was detected.  Returns the mode in effect.
static inline int64_t set_blas_mode(int64_t mode) {
  Blas& b = blas();
  b.mode = (int)std::max<int64_t>(b.detected, std::min<int64_t>(2, mode));
  return b.mode;
}

// Errors raised inside worker threads (only possible on the at::mm fallback path) are
// recorded here and re-thrown by the entry point after the parallel region.
struct ErrorSlot {
  std::atomic<bool> set{false};
  std::string msg;
  std::mutex mu;
  void record(const char* m) {
    std::lock_guard<std::mutex> g(mu);
    if (!set.exchange(true)) msg = m;
  }
};

// Row-major GEMM: C(M,N) = A' B' + beta C where A' = A or A^T (A stored (K,M)), etc.
static inline void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B,
                        int ldb, float beta, float* C, int ldc, ErrorSlot* err) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < N; ++c) C[(int64_t)r * ldc + c] = beta == 0.f ? 0.f : beta * C[(int64_t)r * ldc + c];
    return;
  }
  Blas& b = blas();
  if (b.mode <= 1) {
    // column-major view: C^T(N,M) = B'^T A'^T
    const float one = 1.f;
    b.sgemm(tb ? "T" : "N", ta ? "T" : "N", &N, &M, &K, &one, B, &ldb, A, &lda, &beta, C, &ldc);
    return;
  }
  try {
    at::NoGradGuard ng;
    auto opt = at::TensorOptions().dtype(at::kFloat);
    at::Tensor tA = ta ? at::from_blob(const_cast<float*>(A), {K, M}, {lda, 1}, opt).t()
                       : at::from_blob(const_cast<float*>(A), {M, K}, {lda, 1}, opt);
    at::Tensor tB = tb ? at::from_blob(const_cast<float*>(B), {N, K}, {ldb, 1}, opt).t()
                       : at::from_blob(const_cast<float*>(B), {K, N}, {ldb, 1}, opt);
    at::Tensor tC = at::from_blob(C, {M, N}, {ldc, 1}, opt);
    at::Tensor prod = at::mm(tA, tB);
    if (beta == 0.f) tC.copy_(prod);
    else if (beta == 1.f) tC.add_(prod);
    else tC.mul_(beta).add_(prod);
  } catch (const std::exception& e) {
    if (err) err->record(e.what());
  }
}

// How a right-hand panel B (K, N) larger than the core's L2 is cut.  oneDNN's ukernel walks
// the whole (K, N) panel of B for every block of A's rows, so a panel larger than L2 is fetched
// from L3 again for each block: at H = 512 (K = 512, 1024 columns: a 2 MiB panel against
// 1 MiB of L2 on the Zen 5) plain inference ran at 0.85x torch.nn.LSTM.  A panel that fits in
// 5/8 of L2 (sysconf; 1 MiB where it says nothing) is one call.  A larger one is cut:
//  * with 1 MiB of L2 or more (a budget of 640 KiB or more), into slices of K rows (a multiple
//    of 64, at least 64) that fit, accumulated into C: on the Zen 5 (AVX-512 and AVX2 alike)
//    0.85x -> 0.98-1.02x at H = 512;
//  * with less (the Zen 3's 512 KiB), into slices of kBrgemmCols columns, each multiplied in
//    as few K slices (of equal depth, a multiple of 64 rows) as fit in half the budget: there
//    the row slices alone had to be 64 rows deep, and C (N columns) went through L2 once per
//    slice; the column slices took the input projection at 100,64,512 from 276 to 226 ms and
//    the per-step products from 320 to 280 ms (100,64,256: 59 -> 49 and 66 -> 52 ms; one
//    thread, interleaved).
// Fixed by the shape and the machine, never by the thread count.
static std::atomic<int64_t> g_brgemm_panel_bytes{0};  // 0: from L2 (set_brgemm_panel, tests)
static std::atomic<int> g_brgemm_cols{-1};            // -1: by the budget (set_brgemm_columns, tests)
static constexpr int kBrgemmCols = 128;
static constexpr int64_t kColumnSliceBelow = 640 * 1024;  // budgets below this cut columns
// the core's L2 in bytes (sysconf; 1 MiB where it says nothing)
static inline int64_t l2_bytes() {
  static const int64_t l2 = [] {
    long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return (int64_t)(v > 0 ? v : 1 << 20);
  }();
  return l2;
}
static inline int64_t brgemm_panel_bytes() {
  const int64_t set = g_brgemm_panel_bytes.load();
  if (set > 0) return set;
  return l2_bytes() * 5 / 8;
}
// rows of a slice `width` floats wide (its row stride in B) that fit in `budget` bytes
static inline int k_rows_within(int K, int64_t width, int64_t budget) {
  const int64_t rows = budget / (std::max<int64_t>(width, 1) * (int64_t)sizeof(float));
  if (rows >= K) return std::max(K, 1);
  return (int)std::min<int64_t>(K, std::max<int64_t>(64, rows / 64 * 64));
}
struct BrgemmSlices {
  int cols, rows;  // columns and K rows of B per brgemm call
};
static inline BrgemmSlices brgemm_slices(int K, int N, int ldbt) {
  const int64_t budget = brgemm_panel_bytes();
  if ((int64_t)K * std::max(ldbt, 1) * (int64_t)sizeof(float) <= budget) return {std::max(N, 1), std::max(K, 1)};
  int cols = g_brgemm_cols.load();
  if (cols < 0) cols = budget < kColumnSliceBelow ? kBrgemmCols : 0;
  if (cols <= 0 || cols >= N) return {std::max(N, 1), k_rows_within(K, ldbt, budget)};
  // as few K slices as half the budget allows, of equal depth (a multiple of 64 rows): K = 512
  // with room for 320 rows is two slices of 256, not 320 + 192
  const int most = k_rows_within(K, cols, budget / 2);
  const int slices = (K + most - 1) / most;
  return {cols, std::min(K, ((K + slices - 1) / slices + 63) / 64 * 64)};
}

// A prepared right-hand operand B (K,N) for repeated C(M,N) (+)= A(M,K) B products
// (beta 0 or 1).  Three ways, chosen once at load time:
//  * oneDNN brgemm (at::native::cpublas::brgemm, JIT ukernel; only with LSTMKIT_WITH_BRGEMM,
//    opt-in, for K up to LSTMKIT_FUSED_BRGEMM_MAXK): B must be (K,N) row-major;
//    when given transposed (src stored (N,K)) it is transposed once into `storage`;
//  * MKL packed format (cblas_sgemm_pack / cblas_sgemm_compute) in `storage`;
//  * otherwise a plain GEMM per call (also for empty operands).
// `storage` (bytes() bytes, may be null when bytes() is 0) is owned by the caller.
// When brgemm is enabled, it is used for inner dimensions up to LSTMKIT_FUSED_BRGEMM_MAXK (unset:
// 256; the AMD defaults in nn/fused/build.py set 2048: with the K slices below, brgemm
// measured faster than MKL's packed GEMM at every K there, AVX-512 and AVX2 alike), and, where
// the operand's width N is known (a PackedB), for panels of K x N floats up to
// LSTMKIT_FUSED_BRGEMM_MAXPANEL KiB (unset or 0: any size). On a Zen 1 (128-bit FMA units, 512 KiB
// of L2) brgemm was the faster for panels that fit L2 and MKL's packed GEMM for larger ones
// (plain inference at 100,64,512: 0.84x against 0.98x torch's time), so its default is 512.
static inline bool use_brgemm(int K, int N = 0) {
#ifdef LSTMKIT_WITH_BRGEMM
  static const int maxk = std::getenv("LSTMKIT_FUSED_BRGEMM_MAXK") ? std::atoi(std::getenv("LSTMKIT_FUSED_BRGEMM_MAXK")) : 256;
  static const int64_t max_panel = std::getenv("LSTMKIT_FUSED_BRGEMM_MAXPANEL")
                                       ? (int64_t)std::atoll(std::getenv("LSTMKIT_FUSED_BRGEMM_MAXPANEL")) * 1024
                                       : 0;
  return blas().brg && K <= maxk && (N <= 0 || max_panel <= 0 || (int64_t)sizeof(float) * K * N <= max_panel);
#else
  (void)K;
  (void)N;
  return false;
#endif
}

// d[j * ldd + i] = s[i * lds + j] for i, j < 8 (AVX: 24 shuffles instead of 64 scalar moves)
static inline void transpose8x8(const float* s, int64_t lds, float* d, int64_t ldd) {
#ifdef __AVX__
  const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds), r2 = _mm256_loadu_ps(s + 2 * lds),
               r3 = _mm256_loadu_ps(s + 3 * lds), r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds),
               r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
               t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
               t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
               u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)),
               u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2)),
               u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
#else
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) d[j * ldd + i] = s[i * lds + j];
#endif
}
// dst[k * ldd + n] = src[n * ld + k] for n < N, k < K: the (N, K) block src transposed into
// the (K, N) dst, by 8 x 8 tiles within 64 x 64 ones (a plain double loop ran at ~2 GB/s
// here: the power-of-two strides of the source rows map to a few cache sets; at H = 512 it
// took 3 % of an inference call).
static inline void transpose_into(const float* src, int64_t ld, int N, int K, float* dst, int64_t ldd) {
  constexpr int TB = 64;
  for (int n0 = 0; n0 < N; n0 += TB)
    for (int k0 = 0; k0 < K; k0 += TB) {
      const int n1 = std::min(N, n0 + TB), k1 = std::min(K, k0 + TB);
      for (int n = n0; n < n1; n += 8)
        for (int k = k0; k < k1; k += 8) {
          const float* s = src + (int64_t)n * ld + k;
          float* d = dst + (int64_t)k * ldd + n;
          if (n + 8 <= n1 && k + 8 <= k1) {
            transpose8x8(s, ld, d, ldd);
            continue;
          }
          for (int i = 0; i < std::min(8, n1 - n); ++i)
            for (int j = 0; j < std::min(8, k1 - k); ++j) d[(int64_t)j * ldd + i] = s[(int64_t)i * ld + j];
        }
    }
}

struct PackedB {
  const float* src = nullptr;
  int ld = 0, M = 0, N = 0, K = 0;
  bool trans = false;           // B = src^T (src stored (N,K))
  float* packed = nullptr;      // MKL packed B
  const float* bt = nullptr;    // brgemm: B as (K,N) row-major with leading dimension ldbt
  int ldbt = 0;
  int kb = 0, nc = 0;           // brgemm: K rows and columns of B per call (brgemm_slices)
  void pack(int M_, int N_, int K_, const float* src_, int ld_, bool trans_, float* storage) {
    M = M_; N = N_; K = K_; src = src_; ld = ld_; trans = trans_;
    if (M <= 0 || N <= 0 || K <= 0) return;
    Blas& b = blas();
    if (use_brgemm(K, N)) {
      if (!trans) {
        bt = src; ldbt = ld;
        if (storage && ld != padded_ld(N)) {  // a copy with the padded row stride (see padded_ld)
          ldbt = padded_ld(N);
          for (int k = 0; k < K; ++k) std::memcpy(storage + (int64_t)k * ldbt, src + (int64_t)k * ld, sizeof(float) * N);
          bt = storage;
        }
      } else if (storage) {
        ldbt = padded_ld(N);
        transpose_into(src, ld, N, K, storage, ldbt);
        bt = storage;
      }
      const BrgemmSlices sl = brgemm_slices(K, N, ldbt);
      kb = sl.rows;
      nc = sl.cols;
    } else if (b.mode == 0 && storage) {
      packed = storage;
      b.pack(kRowMajor, kBMatrix, trans ? kTrans : kNoTrans, M, N, K, 1.f, src, ld, packed);
    }
  }
  // Leading dimension of the transposed copy: N plus one cache line where N is a multiple of
  // 16, so that the K rows the ukernel walks down a column panel do not all fall into the
  // same few cache sets (power-of-two row strides did: 1024 columns = 4 KiB).
  static int padded_ld(int N) { return N % 16 == 0 ? N + 16 : N; }
  bool ready() const { return packed || bt; }
  static size_t bytes(int M, int N, int K) {
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    Blas& b = blas();
    if (use_brgemm(K, N)) return sizeof(float) * (size_t)padded_ld(N) * K;
    return b.mode == 0 ? b.pack_size(kBMatrix, M, N, K) : 0;
  }
  void run(const float* A, int lda, float beta, float* C, int ldc, ErrorSlot* err) const {
    if (bt) {
#ifdef LSTMKIT_WITH_BRGEMM
      try {
        // nc columns and kb rows of B per call (brgemm_slices), the K slices accumulated into C
        // in order: a fixed order per shape
        for (int n0 = 0; n0 < N; n0 += nc) {
          const int nn = std::min(nc, N - n0);
          for (int k0 = 0; k0 < K; k0 += kb) {
            const int kn = std::min(kb, K - k0);
            at::native::cpublas::brgemm(M, nn, kn, lda, ldbt, ldc, k0 > 0 || beta != 0.f, A + k0,
                                        bt + (int64_t)k0 * ldbt + n0, C + n0, false);
          }
        }
      } catch (const std::exception& e) {
        if (err) err->record(e.what());
      }
#endif
    } else if (packed) {
      blas().compute(kRowMajor, kNoTrans, kPacked, M, N, K, A, lda, packed, N, beta, C, ldc);
    } else {
      gemm(false, trans, M, N, K, A, lda, src, ld, beta, C, ldc, err);
    }
  }
};

// Weight-gradient products C(M,N) = A^T B + beta C, A stored (K,M) (lda), B (K,N) (ldb), both
// row-major, K long (the T*N rows of a sequence).  With the brgemm path on, A is transposed
// kGemmTnChunk rows at a time into `scratch` (M * kGemmTnChunk floats, owned by the caller's
// thread; null: no brgemm) and each chunk is one brgemm accumulated into C (oneDNN's ukernel
// runs AVX-512 on every vendor's CPU, MKL's sgemm only its AVX2 code on AMD's: 2x there);
// otherwise one plain GEMM.  The summation order is fixed by the sizes (never by threads).
static constexpr int kGemmTnChunk = 256;
static inline size_t gemm_tn_scratch(int M) { return (size_t)M * kGemmTnChunk; }
// The brgemm path of gemm_tn for M up to LSTMKIT_FUSED_BRGEMM_TN_MAXM (unset: up to use_brgemm's
// K limit, at least 256).  With AVX2 only, oneDNN's ukernel ran M = 256 at 57 % of the FP32
// peak where MKL's sgemm reached 85 % (dW at 100,64,256: 91 against 61 ms; cutting C into
// blocks of 64 or 128 rows or columns did not help), and M = 128 faster than MKL (6.6
// against 8.2 ms at 100,32,128), so the AMD AVX2 defaults set 128.
static inline bool use_brgemm_tn(int M) {
#ifdef LSTMKIT_WITH_BRGEMM
  static const int maxm = std::getenv("LSTMKIT_FUSED_BRGEMM_TN_MAXM") ? std::atoi(std::getenv("LSTMKIT_FUSED_BRGEMM_TN_MAXM")) : -1;
  return maxm < 0 ? use_brgemm(std::max(M, kGemmTnChunk)) : (blas().brg && M <= maxm);
#else
  (void)M;
  return false;
#endif
}
static inline void gemm_tn(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta,
                           float* C, int ldc, float* scratch, ErrorSlot* err) {
  if (M <= 0 || N <= 0) return;
#ifdef LSTMKIT_WITH_BRGEMM
  if (scratch && K > 0 && use_brgemm_tn(M)) {
    constexpr int KB = kGemmTnChunk;
    if (beta != 0.f && beta != 1.f)
      for (int r = 0; r < M; ++r)
        for (int c = 0; c < N; ++c) C[(int64_t)r * ldc + c] *= beta;
    for (int k0 = 0; k0 < K; k0 += KB) {
      const int kb = std::min(KB, K - k0);
      for (int m0 = 0; m0 < M; m0 += 8) {  // scratch(M, KB) = A[k0:k0+kb, :]^T, 8 x 8 tiles
        const int mn = std::min(8, M - m0);
        for (int kk0 = 0; kk0 < kb; kk0 += 8) {
          const int kn = std::min(8, kb - kk0);
          const float* s = A + (int64_t)(k0 + kk0) * lda + m0;
          float* d = scratch + (int64_t)m0 * KB + kk0;
          if (mn == 8 && kn == 8) {
            transpose8x8(s, lda, d, KB);
            continue;
          }
          for (int m = 0; m < mn; ++m)
            for (int k = 0; k < kn; ++k) d[(int64_t)m * KB + k] = s[(int64_t)k * lda + m];
        }
      }
      try {
        at::native::cpublas::brgemm(M, N, kb, KB, ldb, ldc, k0 > 0 || beta != 0.f, scratch, B + (int64_t)k0 * ldb, C,
                                    false);
      } catch (const std::exception& e) {
        if (err) err->record(e.what());
        return;
      }
    }
    return;
  }
#else
  (void)scratch;
#endif
  gemm(true, false, M, N, K, A, lda, B, ldb, beta, C, ldc, err);
}

// ---------------------------------------------------------------------------------------
// Threads.
// ---------------------------------------------------------------------------------------
// Per-thread settings for the duration of a kernel: flush denormals to zero and keep MKL
// single-threaded inside our own threads (the partitioning is ours, fixed by the sizes).
struct ThreadScope {
#ifdef LSTMKIT_X86
  unsigned csr;
#endif
  int mkl_prev = 0;
  ThreadScope() {
#ifdef LSTMKIT_X86
    csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);  // FTZ | DAZ
#endif
    if (blas().threads_local) mkl_prev = blas().threads_local(1);
  }
  ~ThreadScope() {
    if (blas().threads_local) blas().threads_local(mkl_prev);
#ifdef LSTMKIT_X86
    _mm_setcsr(csr);
#endif
  }
};

// Runs f(tid, nthreads) on a team of nt threads from torch's own OpenMP pool (ONE parallel
// region, the caller is thread 0), or f(0, 1) when nt <= 1 or when already inside a parallel
// region.  Nothing is set up per thread (run_threads adds ThreadScope).
template <class F>
static inline void run_team(int nt, F&& f) {
#ifdef _OPENMP
  if (nt > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(nt)
    f(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#else
  (void)nt;
#endif
  f(0, 1);
}

// Runs f(tid, nthreads) on min(at::get_num_threads(), max_useful) threads, each inside a
// ThreadScope.
template <class F>
static inline void run_threads(int max_useful, F&& f) {
  const int nt = std::max(1, std::min(at::get_num_threads(), max_useful));
  run_team(nt, [&](int tid, int nth) {
    ThreadScope scope;
    f(tid, nth);
  });
}

static inline void barrier(int nthreads) {
#ifdef _OPENMP
  if (nthreads > 1) {
#pragma omp barrier
  }
#else
  (void)nthreads;
#endif
}

static inline void cpu_relax() {
#ifdef LSTMKIT_X86
  _mm_pause();
#endif
}

// A barrier for the threads of one run_team region whose phases last microseconds (the
// streaming step): it spins, and yields the core every 1024 spins, so a team member the OS
// has not scheduled yet (a busy or oversubscribed machine) gets the core at once, where
// OpenMP's barrier may spin far longer before it sleeps.  `n`: the team's size.
struct SpinBarrier {
  alignas(64) std::atomic<int> count{0};
  alignas(64) std::atomic<int> gen{0};
  void wait(int n) {
    if (n <= 1) return;
    const int g = gen.load(std::memory_order_acquire);
    if (count.fetch_add(1, std::memory_order_acq_rel) == n - 1) {
      count.store(0, std::memory_order_relaxed);
      gen.store(g + 1, std::memory_order_release);
      return;
    }
    for (int spins = 0; gen.load(std::memory_order_acquire) == g;) {
      cpu_relax();
      if ((++spins & 1023) == 0) sched_yield();
    }
  }
};

// Runs f(chunk) for chunk in [0, nchunks), chunks handed out dynamically (each chunk's
// result does not depend on which thread computes it).  `flops` (0: unknown) keeps tiny jobs
// on one thread: waking a second thread costs more than it saves there (much more on a busy
// machine).
template <class F>
static inline void parallel_chunks(int64_t nchunks, F&& f, double flops = 0) {
  if (nchunks <= 0) return;
  std::atomic<int64_t> next{0};
  const int64_t useful = (flops > 0 && flops < 4e6) ? 1 : std::min<int64_t>(nchunks, 1 << 20);
  run_threads((int)useful, [&](int, int) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < nchunks;) f(c);
  });
}

// Same as parallel_chunks, f(chunk, tid) with tid < chunk_threads(nchunks) (to index
// per-thread scratch).
static inline int chunk_threads(int64_t nchunks) {
  return (int)std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), std::min<int64_t>(nchunks, 1 << 20)));
}
template <class F>
static inline void parallel_chunks_tid(int64_t nchunks, F&& f, double flops = 0) {
  if (nchunks <= 0) return;
  std::atomic<int64_t> next{0};
  const int64_t useful = (flops > 0 && flops < 4e6) ? 1 : std::min<int64_t>(nchunks, 1 << 20);
  run_threads((int)useful, [&](int tid, int) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < nchunks;) f(c, tid);
  });
}

// Chunks [0, nchunks) cut into nt contiguous ranges, one per thread of a team: each thread
// takes the chunks of its own range first (the same ones at every call, so that a core keeps
// its part of the data, e.g. the weight rows of a GEMV, in its own cache from call to call),
// then the unclaimed chunks of the others (a thread the OS has not scheduled yet then costs
// its arrival at the next barrier, not its work).  `claims` holds nt ranges, set by
// own_ranges before the team starts; run_owned is called by each thread of the team.
struct alignas(64) ChunkClaim {
  std::atomic<int> next{0};
  int end = 0;
};
static inline void own_ranges(ChunkClaim* claims, int nchunks, int nt) {
  for (int o = 0; o < nt; ++o) {
    claims[o].next.store((int)((int64_t)nchunks * o / nt), std::memory_order_relaxed);
    claims[o].end = (int)((int64_t)nchunks * (o + 1) / nt);
  }
}
template <class F>
static inline void run_owned(ChunkClaim* claims, int nt, int tid, F&& f) {
  for (int k = 0; k < nt; ++k) {
    ChunkClaim& c = claims[(tid + k) % nt];  // own range first, then the others' leftovers
    for (int i; (i = c.next.fetch_add(1, std::memory_order_relaxed)) < c.end;) f(i);
  }
}

// dst[rows[j] * ldd + i] = src[i * lds + j] for i < ni, j < nj: a transposed copy of the
// (ni, nj) block src into the rows rows[0..nj) of dst (16 x 16 tiles).
static inline void transpose_to_rows(const float* src, int64_t lds, int ni, int nj, const int64_t* rows, float* dst,
                              int64_t ldd) {
  constexpr int TB = 16;
  for (int j0 = 0; j0 < nj; j0 += TB) {
    const int jn = std::min(TB, nj - j0);
    for (int i0 = 0; i0 < ni; i0 += TB) {
      const int in = std::min(TB, ni - i0);
      for (int j = 0; j < jn; ++j) {
        float* d = dst + rows[j0 + j] * ldd + i0;
        const float* s = src + (int64_t)i0 * lds + j0 + j;
        for (int i = 0; i < in; ++i) d[i] = s[(int64_t)i * lds];
      }
    }
  }
}

static constexpr int kColChunk = 512;  // gate columns per chunk of the weight-gradient GEMMs

// ---------------------------------------------------------------------------------------
// Vectorized float32 math (GCC/Clang vector extensions; compiled with -march=native).
// exp: Cephes-style range reduction + degree-5 polynomial (~1 ulp); tanh: a rational
// approximation (below, ~3e-7 relative); sigmoid: 1/(1+exp(-x)); the reciprocals use a
// refined hardware estimate (vrcp).
// ---------------------------------------------------------------------------------------
#if defined(__AVX512F__) && !defined(LSTMKIT_VW8)
#define LSTMKIT_VW 16
#else
#define LSTMKIT_VW 8
#endif
constexpr int VW = LSTMKIT_VW;
typedef float vf __attribute__((vector_size(VW * 4)));
typedef int vi __attribute__((vector_size(VW * 4)));

static inline vf splat(float a) { return vf{} + a; }
static inline vf ld(const float* p) { vf v; std::memcpy(&v, p, sizeof(v)); return v; }
static inline void st(float* p, vf v) { std::memcpy(p, &v, sizeof(v)); }

// first n (0 < n <= VW) lanes; the others 0
static inline vf ldn(const float* p, int n) {
  if (n == VW) return ld(p);
#if defined(__AVX512F__) && (LSTMKIT_VW == 16)
  return (vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
#elif defined(__AVX512F__) && defined(__AVX512VL__) && (LSTMKIT_VW == 8)
  return (vf)_mm256_maskz_loadu_ps((__mmask8)((1u << n) - 1u), p);
#else
  vf v = {};
  std::memcpy(&v, p, sizeof(float) * n);
  return v;
#endif
}
// stores the first n (0 < n <= VW) lanes
static inline void stn(float* p, vf v, int n) {
  if (n == VW) { st(p, v); return; }
#if defined(__AVX512F__) && (LSTMKIT_VW == 16)
  _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
#elif defined(__AVX512F__) && defined(__AVX512VL__) && (LSTMKIT_VW == 8)
  _mm256_mask_storeu_ps(p, (__mmask8)((1u << n) - 1u), (__m256)v);
#else
  std::memcpy(p, &v, sizeof(float) * n);
#endif
}

static inline vf vexp(vf x) {
  const vf lo = splat(-87.0f), hi = splat(88.0f);
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  const vf magic = splat(12582912.0f);  // 1.5 * 2^23: round to nearest integer
  vf fx = (x * 1.44269504088896341f + magic) - magic;
  vf r = x - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  // the degree-5 polynomial by Estrin's scheme: three pairs side by side, then two steps in
  // r^2 (a chain of four dependent operations instead of Horner's six)
  const vf r2 = r * r;
  const vf p45 = r * 1.9875691500E-4f + 1.3981999507E-3f;
  const vf p23 = r * 8.3334519073E-3f + 4.1665795894E-2f;
  const vf p01 = r * 1.6666665459E-1f + 5.0000001201E-1f;
  const vf p = (p45 * r2 + p23) * r2 + p01;
  vf y = p * r2 + r + 1.0f;
#if defined(__AVX512F__) && (LSTMKIT_VW == 16)
  // y * 2^n by scalef, one instruction for the integer form's four: the same value (n in
  // [-126, 127] after the clamps, so 2^n is an exact normal float and either form rounds the
  // exact product y * 2^n once)
  return (vf)_mm512_scalef_ps((__m512)y, (__m512)fx);
#else
  vi n = __builtin_convertvector(fx, vi);
  vi e = (n + 127) << 23;
  return y * (vf)e;
#endif
}

// 1/d for finite d > 0 well inside the normal range (our uses: d >= 1 in sigmoid,
// 4.9e-3 <= d < 1 in tanh). With AVX-512: the hardware estimate refined by one Newton-Raphson
// step (rcp14 + 1 step: ~1e-8 relative), cheaper than a division there. With AVX2 alone (AMD
// Zen 1-3): a true division, correctly rounded: the 12-bit estimate needs two Newton steps,
// four multiply-adds on the two FMA pipes that the pointwise passes keep busy, while the
// divider is a unit of its own (on a Zen 1 the forward pointwise pass, timed alone, took a fifth
// less time).
static inline vf vrcp(vf d) {
#if defined(__AVX512F__) && (LSTMKIT_VW == 16)
  vf r = (vf)_mm512_rcp14_ps((__m512)d);
  return r + r * (1.0f - d * r);
#elif defined(__AVX512F__) && defined(__AVX512VL__) && (LSTMKIT_VW == 8)
  vf r = (vf)_mm256_rcp14_ps((__m256)d);
  return r + r * (1.0f - d * r);
#else
  return 1.0f / d;
#endif
}

static inline vf vsigmoid(vf x) { return vrcp(1.0f + vexp(-x)); }

// tanh: for |x| < 0.625 an odd polynomial (Cephes, ~1 ulp); otherwise an odd/even rational
// approximation p(x)/q(x) (degree 13/6, Eigen's coefficients) clamped at |x| = 9 (where tanh
// rounds to +-1), ~3e-7 relative.  No exp and no branch.
static inline vf vtanh(vf x) {
  const vf lim = splat(9.0f);
  vf xc = x > lim ? lim : x;
  xc = xc < -lim ? -lim : xc;
  const vf x2 = xc * xc;
  vf p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  vf q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;  // q >= 4.9e-3 > 0
  vf big = (p * xc) * vrcp(q);
  vf s = splat(-5.70498872745E-3f);
  s = s * x2 + 2.06390887954E-2f;
  s = s * x2 - 5.37397155531E-2f;
  s = s * x2 + 1.33314422036E-1f;
  s = s * x2 - 3.33332819422E-1f;
  vf small = s * x2 * x + x;
  return x2 < 0.390625f ? small : big;  // |x| < 0.625
}

// Zoneout's expectation (evaluation mode; the LSTM variant kernel and the step):
// out[j] = p * kept[j] + (1 - p) * fresh[j] (out may alias either)
static inline void zblend(float* out, const float* kept, const float* fresh, float p, int n) {
  const float q = 1.0f - p;
  int j = 0;
  for (; j + VW <= n; j += VW) st(out + j, ld(kept + j) * p + ld(fresh + j) * q);
  for (; j < n; ++j) out[j] = kept[j] * p + fresh[j] * q;
}

// Sum of the lanes, as a tree in a fixed order: lane i + w added onto lane i for w = VW/2,
// ..., 1.  A fixed order keeps results bitwise reproducible; the tree's depth (log2 VW adds)
// rather than a chain of VW - 1 adds matters because the layer norms wait on these sums
// (two per statistic) before a row can go on.
static inline float hsum(vf v) {
#if defined(__AVX512F__) && (LSTMKIT_VW == 16)
  __m512 x = (__m512)v;
  __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(x), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
#elif defined(__AVX__) && (LSTMKIT_VW == 8)
  __m256 s8 = (__m256)v;
#endif
#if (defined(__AVX512F__) && (LSTMKIT_VW == 16)) || (defined(__AVX__) && (LSTMKIT_VW == 8))
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
#else
  float a[VW];
  std::memcpy(a, &v, sizeof(v));
  for (int w = VW / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) a[i] += a[i + w];
  return a[0];
#endif
}

// mean and 1/sqrt(var + eps) of a[0..n) (biased variance, eps = 1e-5 as cells.LAYER_NORM_EPS):
// the layer norms' statistics (LSTM variants, the step).  The tail past the last full vector
// is summed in scalar code, after the vector lanes.
static inline void row_stats(const float* a, int n, float& mean, float& rstd) {
  // Four independent accumulators per pass: a single one chains every add on the one before
  // (the add latency, ~4 cycles, per vector), which made the layer norm's row passes
  // latency-bound; the two-pass form (mean, then squared deviations) keeps the variance exact
  // for rows far from zero mean.
  vf s0 = {}, s1 = {}, s2 = {}, s3 = {};
  int j = 0;
  for (; j + 4 * VW <= n; j += 4 * VW) {
    s0 += ld(a + j);
    s1 += ld(a + j + VW);
    s2 += ld(a + j + 2 * VW);
    s3 += ld(a + j + 3 * VW);
  }
  for (; j + VW <= n; j += VW) s0 += ld(a + j);
  float sum = hsum((s0 + s1) + (s2 + s3));
  for (; j < n; ++j) sum += a[j];
  mean = sum / (float)n;
  const vf mu = splat(mean);
  vf q0 = {}, q1 = {}, q2 = {}, q3 = {};
  j = 0;
  for (; j + 4 * VW <= n; j += 4 * VW) {
    vf d0 = ld(a + j) - mu, d1 = ld(a + j + VW) - mu, d2 = ld(a + j + 2 * VW) - mu, d3 = ld(a + j + 3 * VW) - mu;
    q0 += d0 * d0;
    q1 += d1 * d1;
    q2 += d2 * d2;
    q3 += d3 * d3;
  }
  for (; j + VW <= n; j += VW) {
    vf d = ld(a + j) - mu;
    q0 += d * d;
  }
  float sq = hsum((q0 + q1) + (q2 + q3));
  for (; j < n; ++j) sq += (a[j] - mean) * (a[j] - mean);
  rstd = 1.0f / std::sqrt(sq / (float)n + 1e-5f);
}

// ---------------------------------------------------------------------------------------
// Hidden-unit blocks behind the block layout of the gate rows: the G*H gate rows of the
// weights and biases (G = 4 LSTM, 3 GRU, 1 RNN) are permuted so that the gates of one block
// are adjacent: [blk0: gate 0 | gate 1 | ... | blk1: ...].
// ---------------------------------------------------------------------------------------
struct Blocks {
  int H = 0, nb = 0;
  std::vector<int> u;  // block b = units [u[b], u[b+1]); its gate rows [G u[b], G u[b+1])
  explicit Blocks(int H_) : H(H_) {
    // Block size: H/2 clamped to [64, 256] units, multiples of VW (two blocks = two threads'
    // worth of work for 128 <= H <= 512; wider blocks make faster GEMMs).  Fixed by H only,
    // never by threads.
    int target = std::min(256, std::max(64, H / 2));
    if (const char* e = std::getenv("LSTMKIT_FUSED_BLOCK")) target = std::max(VW, std::atoi(e));
    nb = std::max(1, (H + target - 1) / target);
    u.resize(nb + 1);
    for (int b = 0; b <= nb; ++b) {
      int64_t v = (int64_t)H * b / nb;
      if (b != nb) v = std::min<int64_t>(H, (v + VW - 1) / VW * VW);
      u[b] = (int)v;
    }
    // drop empty blocks (possible for tiny H)
    std::vector<int> uu{0};
    for (int b = 1; b <= nb; ++b)
      if (u[b] > uu.back()) uu.push_back(u[b]);
    u = uu;
    nb = (int)u.size() - 1;
  }
  int size(int b) const { return u[b + 1] - u[b]; }
  // position, in a layout of S slots per unit, of slot k of unit j
  int64_t pos(int S, int k, int j) const {
    int b = (int)(std::upper_bound(u.begin(), u.end(), j) - u.begin()) - 1;
    return (int64_t)S * u[b] + (int64_t)k * size(b) + (j - u[b]);
  }
  std::vector<int64_t> perm(int S) const {  // perm[p] = torch row (k*H + j) of block row p
    std::vector<int64_t> p((size_t)S * H);
    for (int k = 0; k < S; ++k)
      for (int j = 0; j < H; ++j) p[pos(S, k, j)] = (int64_t)k * H + j;
    return p;
  }
};

// Block-layout rows back to torch's row order (the inverse of each family's to_block_rows).
static inline at::Tensor from_block_rows(const at::Tensor& wp, const std::vector<int64_t>& perm) {
  auto idx = at::from_blob(const_cast<int64_t*>(perm.data()), {(int64_t)perm.size()}, at::kLong);
  at::Tensor out = at::empty(wp.sizes(), wp.options());  // contiguous even if wp is a view
  out.index_copy_(0, idx, wp);
  return out;
}

static constexpr int kRowChunk = 256;   // rows per chunk of the big (T*N)-row GEMMs
static constexpr int kChunkRows = 256;  // forward: minimum rows (Tc*N) of an input-projection chunk

// C(R, Nc) = A(R, K) op(W) with op(W) = W^T (W stored (Nc, K)) or W (stored (K, Nc)),
// chunked over rows of A/C (fixed chunks of kRowChunk rows, so the result does not depend on
// the thread count).  On the MKL-packed path op(W) is packed once here, into scratch(n) (an
// n-float tensor owned by this call: each family's allocator) and shared by all full chunks;
// the ragged last chunk uses a plain GEMM.  `flops` as for parallel_chunks (0: unknown).
// post(r0, rows), if given, runs on each chunk's rows right after its GEMM (while they are in
// cache).  Each family wraps this as its big_gemm_rows.
struct NoPost {
  void operator()(int64_t, int) const {}
};
template <class Scratch, class Post = NoPost>
static inline void gemm_row_chunks(Scratch&& scratch, double flops, int64_t R, int Nc, int K, const float* A,
                                   int lda, const float* W, int ldw, bool transW, float* C, int ldc,
                                   ErrorSlot* err, Post post = Post()) {
  const int64_t nch = (R + kRowChunk - 1) / kRowChunk, nfull = R / kRowChunk;
  PackedB pb;
  at::Tensor store;
  if (nfull >= 2 && PackedB::bytes(kRowChunk, Nc, K) > 0) {
    store = scratch((int64_t)(PackedB::bytes(kRowChunk, Nc, K) / 4 + 16));
    ThreadScope scope;
    pb.pack(kRowChunk, Nc, K, W, ldw, transW, store.data_ptr<float>());
  }
  parallel_chunks(nch, [&](int64_t c) {
    const int64_t r0 = c * kRowChunk;
    const int rows = (int)std::min<int64_t>(kRowChunk, R - r0);
    if (pb.ready() && rows == kRowChunk) pb.run(A + r0 * lda, lda, 0.f, C + r0 * ldc, ldc, err);
    else gemm(false, transW, rows, Nc, K, A + r0 * lda, lda, W, ldw, 0.f, C + r0 * ldc, ldc, err);
    post(r0, rows);
  }, flops);
}

// ---------------------------------------------------------------------------------------
// Diagnostics.
// ---------------------------------------------------------------------------------------
// Phase timer for tuning: LSTMKIT_FUSED_PROFILE=1 prints the phases of every call to stderr
// (LSTMKIT_FUSED_PROFILE=cpu: the calling thread's CPU time instead of wall time, which is
// steadier on a busy machine).
static inline double prof_now_ms(bool cpu) {
  if (cpu) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
static inline int prof_mode() {  // 0 off, 1 wall, 2 thread CPU time
  const char* e = std::getenv("LSTMKIT_FUSED_PROFILE");
  if (!e || !*e || std::string(e) == "0") return 0;
  return std::string(e) == "cpu" ? 2 : 1;
}
struct PhaseTimer {
  bool on, cpu;
  double t = 0;
  std::string line;
  explicit PhaseTimer(const char* what) : on(prof_mode() != 0), cpu(prof_mode() == 2) {
    if (on) { line = what; t = prof_now_ms(cpu); }
  }
  void lap(const char* name) {
    if (!on) return;
    double now = prof_now_ms(cpu);
    add(name, now - t);
    t = now;
  }
  void add(const char* name, double ms) {  // a phase measured elsewhere (LoopProf)
    if (on) line += std::string(" ") + name + "=" + std::to_string(ms).substr(0, 6) + "ms";
  }
  ~PhaseTimer() { if (on) fprintf(stderr, "%s\n", line.c_str()); }
};

// The info() line: which GEMM path is used (`extra` follows it), the vector width, how H is
// blocked (H > 0) and the threads.
static inline std::string kernel_info(int64_t H, const std::string& extra = std::string()) {
  Blas& b = blas();
  static const char* names[] = {"mkl-packed", "mkl-sgemm", "aten-mm"};
  std::string s = std::string("blas=") + names[b.mode] + " (detected " + names[b.detected] + ")";
  s += extra;
  s += " vector_width=" + std::to_string(VW);
  if (H > 0) {
    Blocks blk((int)H);
    s += " blocks=";
    for (int i = 0; i < blk.nb; ++i) s += (i ? "," : "") + std::to_string(blk.size(i));
  }
#ifdef _OPENMP
  s += " openmp=1";
#else
  s += " openmp=0";
#endif
  s += " threads=" + std::to_string(at::get_num_threads());
  return s;
}

#ifdef LSTMKIT_WITH_BRGEMM
// The extensions' info(H) and set_brgemm(on), the same for every family with the brgemm path
// (LSTM, GRU / RNN): the info() line with the brgemm state, and switching the path (tests;
// returns whether it is in effect).
static inline std::string brgemm_kernel_info(int64_t H) {
  Blas& b = blas();
  return kernel_info(H, std::string(" brgemm=") + (b.brg ? "on" : (b.brg_ok ? "off" : "unavailable")));
}
static inline int64_t set_brgemm(bool on) {
  Blas& b = blas();
  b.brg = on && b.brg_ok;
  return b.brg;
}
// the panel budget of brgemm_slices in bytes (0: from L2); returns the previous setting (tests)
static inline int64_t set_brgemm_panel(int64_t bytes) { return g_brgemm_panel_bytes.exchange(std::max<int64_t>(bytes, 0)); }
// columns per slice of a panel over the budget (0: row slices only; -1: by the budget); returns
// the previous setting (tests)
static inline int64_t set_brgemm_columns(int64_t cols) { return g_brgemm_cols.exchange((int)std::max<int64_t>(cols, -1)); }
#endif

// ---------------------------------------------------------------------------------------
// Large-buffer pool.  Fresh memory costs a page fault per 4 KiB on its first touch (measured
// ~1-3 us each on a busy VM, i.e. ~0.5-1 ms per MiB: 10-20% of a layer-norm training step
// when the saved buffers and the backward's scratch arrive fresh on every call, which they do
// whenever glibc has returned the freed heap to the system, as it does for the (T, N, H)
// outputs torch's allocator hands out anew at each call).  Buffers of >= 256 KiB (scratch, the
// buffers saved for the backward, and the outputs and gradients returned to the user)
// therefore come from a pool: a released block is kept (up to LSTMKIT_FUSED_POOL_MB MiB in
// all per kernel family library that uses it (LSTM, GRU/RNN), default 1024 or 1/16 of the
// machine's memory where that is less; 0 disables the pool; when full, the blocks released
// longest ago are returned to the system first) and handed out again to a later request of
// 0.8 to 1 times its size.  The blocks are
// mmap'd, not malloc'd, so that the blocks kept here never change where glibc puts (and when
// it trims) the heap that torch's own allocations use.  Thread-safe; the tensors are
// ordinary, resizable CPU tensors whose storage comes from PoolAllocator below.
// ---------------------------------------------------------------------------------------
struct BigPool {
  struct Free {
    void* p;
    uint64_t stamp;  // when it was released: the oldest go first when the pool is full
  };
  std::mutex mu;
  std::multimap<size_t, Free> free_blocks;  // size -> block
  size_t held = 0, cap = 0;
  uint64_t clock = 0;
  BigPool() {
    // default: 1 GiB, or 1/16 of the machine's memory where that is less
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    size_t dflt = (size_t)1024 << 20;
    if (pages > 0 && page > 0) dflt = std::min(dflt, (size_t)pages * (size_t)page / 16);
    const char* e = std::getenv("LSTMKIT_FUSED_POOL_MB");
    cap = e && *e ? (size_t)std::max(0L, std::atol(e)) << 20 : dflt;
  }
  void* get(size_t bytes, size_t* got) {
    {
      std::lock_guard<std::mutex> g(mu);
      auto it = free_blocks.lower_bound(bytes);
      if (it != free_blocks.end() && it->first <= bytes + bytes / 4) {
        void* p = it->second.p;
        *got = it->first;
        held -= it->first;
        free_blocks.erase(it);
        return p;
      }
    }
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    *got = bytes;
    return p;
  }
  void put(void* p, size_t bytes) {
    std::vector<std::pair<void*, size_t>> evicted;
    {
      std::lock_guard<std::mutex> g(mu);
      if (bytes <= cap) {
        while (held + bytes > cap && !free_blocks.empty()) {  // make room: oldest blocks out
          auto oldest = free_blocks.begin();
          for (auto it = free_blocks.begin(); it != free_blocks.end(); ++it)
            if (it->second.stamp < oldest->second.stamp) oldest = it;
          evicted.emplace_back(oldest->second.p, oldest->first);
          held -= oldest->first;
          free_blocks.erase(oldest);
        }
        free_blocks.emplace(bytes, Free{p, ++clock});
        held += bytes;
        p = nullptr;
      }
    }
    for (auto& e : evicted) munmap(e.first, e.second);
    if (p) munmap(p, bytes);
  }
  size_t held_bytes() {
    std::lock_guard<std::mutex> g(mu);
    return held;
  }
};
static inline BigPool& big_pool() {
  static BigPool* p = new BigPool();  // never destroyed: deleters may run during exit; one per family
  return *p;
}
// The pool as a c10::Allocator: blocks of >= kPoolMin bytes come from (and go back to) the
// pool, in whole 64 KiB, smaller ones from torch's CPU allocator.  Tensors made with it are ordinary, resizable CPU tensors.
static constexpr size_t kPoolMin = 256u << 10;
struct PoolBlock {
  void* p;
  size_t bytes;
};
static inline void pool_block_delete(void* ctx) {
  auto* b = static_cast<PoolBlock*>(ctx);
  big_pool().put(b->p, b->bytes);
  delete b;
}
struct PoolAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) override {
    BigPool& pool = big_pool();
    if (n < kPoolMin || pool.cap == 0) return c10::GetCPUAllocator()->allocate(n);
    const size_t want = (n + (1u << 16) - 1) >> 16 << 16;  // whole 64 KiB
    size_t got = want;
    void* p = pool.get(want, &got);
    return {p, new PoolBlock{p, got}, &pool_block_delete, c10::Device(c10::DeviceType::CPU)};
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
};
static inline PoolAllocator& pool_allocator() {
  static PoolAllocator* a = new PoolAllocator();  // never destroyed: deleters may run during exit
  return *a;
}
// (bytes held free by the pool, its cap): for tests and diagnostics.
static inline std::pair<int64_t, int64_t> pool_stats() {
  return {(int64_t)big_pool().held_bytes(), (int64_t)big_pool().cap};
}
// at::empty(sizes) of float32 through the pool allocator.
static inline at::Tensor pooled_empty(at::IntArrayRef sizes, const at::TensorOptions&) {
  return at::Tensor(at::detail::empty_generic(sizes, &pool_allocator(), c10::DispatchKeySet(c10::DispatchKey::CPU),
                                              at::kFloat, c10::nullopt));
}
// t itself when contiguous, else a contiguous float32 copy in pool memory (incoming gradients
// are often expanded views: the gradient of out.sum() is one number with stride 0).
static inline at::Tensor pooled_contiguous(const at::Tensor& t) {
  if (t.is_contiguous()) return t;
  at::Tensor o = pooled_empty(t.sizes(), t.options());
  o.copy_(t);
  return o;
}

}  // namespace common
}  // namespace lstmkit

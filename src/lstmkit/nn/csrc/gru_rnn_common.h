// lstmkit fused CPU kernels, GRU / RNN family: the helpers this extension needs, copied from
// lstm_fused.cpp (each extension compiles on its own, so nothing is shared at link time).
// Namespace lstmkit_gr keeps the copies apart from the LSTM extension's symbols.
//
//   * BLAS binding: MKL's sgemm_ / cblas_sgemm_pack / cblas_sgemm_compute resolved with dlsym
//     from libtorch_cpu; at::mm when they are absent (LSTMKIT_FUSED_BLAS=0|1|2 forces a path).
//   * PackedB: a right-hand operand packed once (MKL packed format) for repeated products.
//   * ThreadScope (denormals flushed, MKL single-threaded inside our threads), run_threads,
//     barrier, parallel_chunks: the fixed work partition that makes results bitwise identical
//     whatever the number of threads.
//   * Vectorized exp / sigmoid / tanh (AVX-512 16-wide, else 8-wide vector extensions).
//   * big_gemm_rows: a (T*N)-row GEMM cut into fixed row chunks.
// (The opt-in oneDNN brgemm path of the LSTM extension is left out here.)

#pragma once

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LSTMKIT_GR_X86 1
#endif

namespace lstmkit_gr {

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
  mkl_threads_local_fn threads_local = nullptr;  // MKL_Set_Num_Threads_Local (by value)
  int mode = 0;  // 0: packed MKL, 1: plain sgemm_, 2: at::mm fallback
  int detected = 2;
};

static Blas& blas() {
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
  });
  return b;
}

// Errors raised inside worker threads (only possible on the at::mm path) are recorded here
// and re-thrown by the entry point after the parallel region.
struct ErrorSlot {
  std::atomic<bool> set{false};
  std::string msg;
  std::mutex mu;
  void record(const char* m) {
    std::lock_guard<std::mutex> g(mu);
    if (!set.exchange(true)) msg = m;
  }
};

// Row-major GEMM: C(M,N) = A' B' + beta C, A' = A or A^T (A stored (K,M)), B' likewise.
static void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc, ErrorSlot* err) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < N; ++c) C[(int64_t)r * ldc + c] = beta == 0.f ? 0.f : beta * C[(int64_t)r * ldc + c];
    return;
  }
  Blas& b = blas();
  if (b.mode <= 1) {  // column-major view: C^T(N,M) = B'^T A'^T
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

// A right-hand operand B (K,N) (or src^T when trans) prepared for repeated C(M,N) (+)= A B
// (beta 0 or 1): MKL packed format in caller-owned `storage` (bytes() bytes), else a plain
// GEMM per call.
struct PackedB {
  const float* src = nullptr;
  int ld = 0, M = 0, N = 0, K = 0;
  bool trans = false;
  float* packed = nullptr;
  void pack(int M_, int N_, int K_, const float* src_, int ld_, bool trans_, float* storage) {
    M = M_; N = N_; K = K_; src = src_; ld = ld_; trans = trans_;
    Blas& b = blas();
    if (b.mode == 0 && storage && M > 0 && N > 0 && K > 0) {
      packed = storage;
      b.pack(kRowMajor, kBMatrix, trans ? kTrans : kNoTrans, M, N, K, 1.f, src, ld, packed);
    }
  }
  bool ready() const { return packed != nullptr; }
  static size_t bytes(int M, int N, int K) {
    Blas& b = blas();
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    return b.mode == 0 ? b.pack_size(kBMatrix, M, N, K) : 0;
  }
  void run(const float* A, int lda, float beta, float* C, int ldc, ErrorSlot* err) const {
    if (packed) blas().compute(kRowMajor, kNoTrans, kPacked, M, N, K, A, lda, packed, N, beta, C, ldc);
    else gemm(false, trans, M, N, K, A, lda, src, ld, beta, C, ldc, err);
  }
};

// Per-thread settings for a kernel: flush denormals, keep MKL single-threaded in our threads.
struct ThreadScope {
#ifdef LSTMKIT_GR_X86
  unsigned csr;
#endif
  int mkl_prev = 0;
  ThreadScope() {
#ifdef LSTMKIT_GR_X86
    csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);  // FTZ | DAZ
#endif
    if (blas().threads_local) mkl_prev = blas().threads_local(1);
  }
  ~ThreadScope() {
    if (blas().threads_local) blas().threads_local(mkl_prev);
#ifdef LSTMKIT_GR_X86
    _mm_setcsr(csr);
#endif
  }
};

// Runs f(tid, nthreads) on min(at::get_num_threads(), max_useful) threads.
template <class F>
static void run_threads(int max_useful, F&& f) {
  int nt = std::max(1, std::min(at::get_num_threads(), max_useful));
#ifdef _OPENMP
  if (nt > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(nt)
    {
      ThreadScope scope;
      f(omp_get_thread_num(), omp_get_num_threads());
    }
    return;
  }
#endif
  ThreadScope scope;
  f(0, 1);
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

// f(chunk) for chunk in [0, nchunks), handed out dynamically (a chunk's result does not
// depend on the thread computing it).  `flops` (0: unknown) keeps tiny jobs on one thread:
// waking a second thread costs more than it saves there (much more on a busy machine).
template <class F>
static void parallel_chunks(int64_t nchunks, F&& f, double flops = 0) {
  if (nchunks <= 0) return;
  std::atomic<int64_t> next{0};
  const int64_t useful = (flops > 0 && flops < 4e6) ? 1 : std::min<int64_t>(nchunks, 1 << 20);
  run_threads((int)useful, [&](int, int) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < nchunks;) f(c);
  });
}

// ---------------------------------------------------------------------------------------
// Vectorized float32 math (the LSTM extension's: exp ~1 ulp, tanh ~2 ulp, sigmoid).
// ---------------------------------------------------------------------------------------
#if defined(__AVX512F__) && !defined(LSTMKIT_VW8)
#define LSTMKIT_GR_VW 16
#else
#define LSTMKIT_GR_VW 8
#endif
constexpr int VW = LSTMKIT_GR_VW;
typedef float vf __attribute__((vector_size(VW * 4)));
typedef int vi __attribute__((vector_size(VW * 4)));

static inline vf splat(float a) { return vf{} + a; }
static inline vf ld(const float* p) { vf v; std::memcpy(&v, p, sizeof(v)); return v; }
static inline void st(float* p, vf v) { std::memcpy(p, &v, sizeof(v)); }
static inline vf ldn(const float* p, int n) {
  if (n == VW) return ld(p);
  vf v = {};
  std::memcpy(&v, p, sizeof(float) * n);
  return v;
}
static inline void stn(float* p, vf v, int n) {
  if (n == VW) st(p, v);
  else std::memcpy(p, &v, sizeof(float) * n);
}

static inline vf vexp(vf x) {
  const vf lo = splat(-87.0f), hi = splat(88.0f);
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  const vf magic = splat(12582912.0f);  // 1.5 * 2^23: round to nearest integer
  vf fx = (x * 1.44269504088896341f + magic) - magic;
  vf r = x - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  vf p = splat(1.9875691500E-4f);
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  vf y = p * (r * r) + r + 1.0f;
  vi n = __builtin_convertvector(fx, vi);
  vi e = (n + 127) << 23;
  return y * (vf)e;
}

// 1/d for d >= 1: hardware reciprocal estimate refined by Newton-Raphson.
static inline vf vrcp(vf d) {
#if defined(__AVX512F__) && (LSTMKIT_GR_VW == 16)
  vf r = (vf)_mm512_rcp14_ps((__m512)d);
  return r + r * (1.0f - d * r);
#elif defined(__AVX512F__) && defined(__AVX512VL__) && (LSTMKIT_GR_VW == 8)
  vf r = (vf)_mm256_rcp14_ps((__m256)d);
  return r + r * (1.0f - d * r);
#elif defined(__AVX__) && (LSTMKIT_GR_VW == 8)
  vf r = (vf)_mm256_rcp_ps((__m256)d);
  r = r + r * (1.0f - d * r);
  return r + r * (1.0f - d * r);
#else
  return 1.0f / d;
#endif
}

static inline vf vsigmoid(vf x) { return vrcp(1.0f + vexp(-x)); }

static inline vf vtanh(vf x) {
  vi bits = (vi)x;
  vf ax = (vf)(bits & 0x7fffffff);
  vf big = 1.0f - 2.0f * vrcp(vexp(ax + ax) + 1.0f);
  big = (vf)((vi)big | (bits & (int)0x80000000));
  vf s = x * x;
  vf p = splat(-5.70498872745E-3f);
  p = p * s + 2.06390887954E-2f;
  p = p * s - 5.37397155531E-2f;
  p = p * s + 1.33314422036E-1f;
  p = p * s - 3.33332819422E-1f;
  vf small = p * s * x + x;
  return ax < 0.625f ? small : big;
}

// LSTMKIT_FUSED_PROFILE=1 prints the phases of every call to stderr.
struct PhaseTimer {
  bool on;
  std::chrono::steady_clock::time_point t;
  std::string line;
  explicit PhaseTimer(const char* what) : on(std::getenv("LSTMKIT_FUSED_PROFILE") != nullptr) {
    if (on) { line = what; t = std::chrono::steady_clock::now(); }
  }
  void lap(const char* name) {
    if (!on) return;
    auto now = std::chrono::steady_clock::now();
    line += std::string(" ") + name + "=" +
            std::to_string(std::chrono::duration<double, std::milli>(now - t).count()).substr(0, 6) + "ms";
    t = now;
  }
  ~PhaseTimer() { if (on) fprintf(stderr, "%s\n", line.c_str()); }
};

static constexpr int kRowChunk = 256;   // rows per chunk of the big (T*N)-row GEMMs
static constexpr int kChunkRows = 256;  // forward: minimum rows (Tc*N) of an input-projection chunk

// C(R, Nc) = A(R, K) op(W), op(W) = W^T (W stored (Nc, K)) or W (stored (K, Nc)), in fixed
// row chunks; on the MKL path op(W) is packed once and shared by the full chunks.
static void big_gemm_rows(int64_t R, int Nc, int K, const float* A, int lda, const float* W,
                          int ldw, bool transW, float* C, int ldc, ErrorSlot* err) {
  const int64_t nch = (R + kRowChunk - 1) / kRowChunk, nfull = R / kRowChunk;
  PackedB pb;
  at::Tensor store;
  if (nfull >= 2 && PackedB::bytes(kRowChunk, Nc, K) > 0) {
    store = at::empty({(int64_t)(PackedB::bytes(kRowChunk, Nc, K) / 4 + 16)}, at::kFloat);
    ThreadScope scope;
    pb.pack(kRowChunk, Nc, K, W, ldw, transW, store.data_ptr<float>());
  }
  parallel_chunks(nch, [&](int64_t c) {
    const int64_t r0 = c * kRowChunk;
    const int rows = (int)std::min<int64_t>(kRowChunk, R - r0);
    if (pb.ready() && rows == kRowChunk) pb.run(A + r0 * lda, lda, 0.f, C + r0 * ldc, ldc, err);
    else gemm(false, transW, rows, Nc, K, A + r0 * lda, lda, W, ldw, 0.f, C + r0 * ldc, ldc, err);
  }, 2.0 * R * Nc * K);
}

}  // namespace lstmkit_gr

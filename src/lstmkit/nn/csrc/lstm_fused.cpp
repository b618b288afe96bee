// lstmkit fused CPU kernels: one LSTM layer-direction, forward and backward (BPTT).
//
// Equations (torch gate order i, f, g, o along the 4H rows of the weights):
//   a_t  = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh            (N, 4H)
//   i = sigmoid(a_i)  f = sigmoid(a_f)  g = tanh(a_g)  o = sigmoid(a_o)
//   c_t  = f * c_{t-1} + i * g
//   h_t  = o * tanh(c_t)
//
// Structure of one call (forward or backward is ONE call for the whole sequence):
//   * The hidden units are cut into `nb` blocks (sizes fixed by H only, never by the thread
//     count).  The 4H gate rows of W_ih, W_hh and the biases are permuted ("block layout")
//     so that all four gates of one block are adjacent: [blk0: i f g o | blk1: i f g o | ...].
//     Gate buffers below are always in this block layout.
//   * Forward: one big GEMM G = X W_ih_p^T for all T*N rows before the loop; in the loop each
//     thread owns some blocks and does, per step, G[t][:, blk] += h_{t-1} W_hh_p[blk]^T
//     (MKL packed GEMM when available), then one fused pointwise pass (bias, activations,
//     cell update) for its blocks; one barrier per step.
//   * Backward: per step a pointwise pass writes dG[t] (gradients of the pre-activations)
//     for the owned blocks, a barrier, then dh[:, blk] = dG[t] W_hh_p[:, blk]; after the loop
//     dX, dW_ih, dW_hh and the bias gradients are big GEMMs / reductions over all of dG.
//   * Every GEMM call and every pointwise element is computed by exactly the same code with
//     the same arguments whatever the number of threads, so results are bitwise identical
//     at 1 and at N threads.
//
// Memory ownership: every buffer is an at::Tensor allocated by the entry points below
// (lstm_forward / lstm_backward) and lives until they return (scratch) or is returned to
// Python (outputs, saved buffers).  Worker threads never allocate; they only write to
// disjoint column blocks of the shared buffers.  MKL packed-matrix scratch is also an
// at::Tensor owned by the entry point.

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
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
#include <xmmintrin.h>
#define LSTMKIT_X86 1
#endif

namespace lstmkit {

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
static void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B,
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

// A packed right-hand operand B (K,N) for repeated C(M,N) (+)= A(M,K) B products.
// Owns its MKL-packed scratch (an at::Tensor) when the packed path is in use; otherwise
// keeps the plain pointer.  Packing happens on the thread that calls pack().
struct PackedB {
  const float* src = nullptr;
  int ld = 0, M = 0, N = 0, K = 0;
  bool trans = false;  // B = src^T (src stored (N,K))
  float* packed = nullptr;
  void pack(int M_, int N_, int K_, const float* src_, int ld_, bool trans_, float* storage) {
    M = M_; N = N_; K = K_; src = src_; ld = ld_; trans = trans_;
    Blas& b = blas();
    if (b.mode == 0 && storage) {
      packed = storage;
      b.pack(kRowMajor, kBMatrix, trans ? kTrans : kNoTrans, M, N, K, 1.f, src, ld, packed);
    }
  }
  static size_t bytes(int M, int N, int K) {
    Blas& b = blas();
    return b.mode == 0 ? b.pack_size(kBMatrix, M, N, K) : 0;
  }
  void run(const float* A, int lda, float beta, float* C, int ldc, ErrorSlot* err) const {
    if (packed) {
      blas().compute(kRowMajor, kNoTrans, kPacked, M, N, K, A, lda, packed, N, beta, C, ldc);
    } else {
      gemm(false, trans, M, N, K, A, lda, src, ld, beta, C, ldc, err);
    }
  }
};

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

// Runs f(chunk) for chunk in [0, nchunks), chunks handed out dynamically (each chunk's
// result does not depend on which thread computes it).
template <class F>
static void parallel_chunks(int64_t nchunks, F&& f) {
  if (nchunks <= 0) return;
  std::atomic<int64_t> next{0};
  run_threads((int)std::min<int64_t>(nchunks, 1 << 20), [&](int, int) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < nchunks;) f(c);
  });
}

// ---------------------------------------------------------------------------------------
// Vectorized float32 math (GCC/Clang vector extensions; compiled with -march=native).
// exp: Cephes-style range reduction + degree-5 polynomial (~1 ulp); tanh: odd polynomial
// for |x| < 0.625, 1 - 2/(exp(2|x|)+1) otherwise (~2 ulp); sigmoid: 1/(1+exp(-x)).
// ---------------------------------------------------------------------------------------
#if defined(__AVX512F__) && defined(LSTMKIT_VW16)
constexpr int VW = 16;
#else
constexpr int VW = 8;
#endif
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

static inline vf vsigmoid(vf x) { return 1.0f / (1.0f + vexp(-x)); }

static inline vf vtanh(vf x) {
  vi bits = (vi)x;
  vf ax = (vf)(bits & 0x7fffffff);
  vf big = 1.0f - 2.0f / (vexp(ax + ax) + 1.0f);
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

// ---------------------------------------------------------------------------------------
// Hidden-unit blocks and the block-layout permutation of the 4H gate rows.
// ---------------------------------------------------------------------------------------
struct Blocks {
  int H = 0, nb = 0;
  std::vector<int> u;  // block b = units [u[b], u[b+1]); gate rows [4u[b], 4u[b+1])
  explicit Blocks(int H_) : H(H_) {
    int target = 64;
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
  // block-layout row of gate k (0..3) of unit j
  int prow(int k, int j) const {
    int b = (int)(std::upper_bound(u.begin(), u.end(), j) - u.begin()) - 1;
    return 4 * u[b] + k * size(b) + (j - u[b]);
  }
  std::vector<int64_t> perm() const {  // perm[p] = torch row of block-layout row p
    std::vector<int64_t> p(4 * (size_t)H);
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < H; ++j) p[prow(k, j)] = (int64_t)k * H + j;
    return p;
  }
};

static at::Tensor to_block_rows(const at::Tensor& w, const std::vector<int64_t>& perm) {
  auto idx = at::from_blob(const_cast<int64_t*>(perm.data()), {(int64_t)perm.size()}, at::kLong);
  return w.index_select(0, idx).contiguous();
}
static at::Tensor from_block_rows(const at::Tensor& wp, const std::vector<int64_t>& perm) {
  auto idx = at::from_blob(const_cast<int64_t*>(perm.data()), {(int64_t)perm.size()}, at::kLong);
  at::Tensor out = at::empty_like(wp);
  out.index_copy_(0, idx, wp);
  return out;
}

static constexpr int kRowChunk = 256;  // rows per chunk of the big (T*N)-row GEMMs
static constexpr int kColChunk = 64;   // output rows per chunk of the weight-gradient GEMMs

// C(R, Nc) = A(R, K) B  with B = W^T (W stored (Nc, K)) or B = W (stored (K, Nc)),
// chunked over rows of A/C.
static void big_gemm_rows(int64_t R, int Nc, int K, const float* A, int lda, const float* W,
                          int ldw, bool transW, float* C, int ldc, ErrorSlot* err) {
  int64_t nch = (R + kRowChunk - 1) / kRowChunk;
  parallel_chunks(nch, [&](int64_t c) {
    int64_t r0 = c * kRowChunk;
    int rows = (int)std::min<int64_t>(kRowChunk, R - r0);
    gemm(false, transW, rows, Nc, K, A + r0 * lda, lda, W, ldw, 0.f, C + r0 * ldc, ldc, err);
  });
}

// ---------------------------------------------------------------------------------------
// Forward.
//   x (T,N,I), h0/c0 (N,H), w_ih (4H,I), w_hh (4H,H), b_ih/b_hh (4H) or undefined,
//   lengths (N) int64 or undefined.
// Returns [output (T,N,H), h_n (N,H), c_n (N,H), gates (T,N,4H) block layout, activated,
//          cells (T,N,H)] ; gates/cells are empty tensors when training == false.
// ---------------------------------------------------------------------------------------
std::vector<at::Tensor> lstm_forward(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& c0,
                                     const at::Tensor& w_ih, const at::Tensor& w_hh,
                                     const c10::optional<at::Tensor>& b_ih,
                                     const c10::optional<at::Tensor>& b_hh, bool reverse,
                                     const c10::optional<at::Tensor>& lengths_opt, bool training) {
  TORCH_CHECK(x.dim() == 3 && x.is_contiguous() && x.scalar_type() == at::kFloat, "x must be (T,N,I) contiguous float32");
  const int T = (int)x.size(0), N = (int)x.size(1), I = (int)x.size(2), H = (int)w_hh.size(1);
  const int G4 = 4 * H;
  TORCH_CHECK(w_ih.sizes() == at::IntArrayRef({G4, I}) && w_hh.sizes() == at::IntArrayRef({G4, H}), "bad weight shapes");
  TORCH_CHECK(h0.sizes() == at::IntArrayRef({N, H}) && c0.sizes() == at::IntArrayRef({N, H}), "bad state shapes");
  TORCH_CHECK(h0.is_contiguous() && c0.is_contiguous() && w_ih.is_contiguous() && w_hh.is_contiguous(), "inputs must be contiguous");
  const bool has_len = lengths_opt.has_value() && lengths_opt->defined();
  const int64_t* len = has_len ? lengths_opt->data_ptr<int64_t>() : nullptr;

  auto opt = x.options();
  at::Tensor output = at::empty({T, N, H}, opt);
  at::Tensor h_n = at::empty({N, H}, opt);
  at::Tensor c_n = c0.clone();  // running cell state (updated in place), returned as c_n
  at::Tensor gates = at::empty({T, N, G4}, opt);
  at::Tensor cells = training ? at::empty({T, N, H}, opt) : at::empty({0}, opt);
  if (T == 0 || N == 0 || H == 0) {
    h_n.copy_(h0);
    return {output, h_n, c_n, gates, cells};
  }

  Blocks blk(H);
  auto perm = blk.perm();
  at::Tensor wih_p = to_block_rows(w_ih, perm);
  at::Tensor whh_p = to_block_rows(w_hh, perm);
  at::Tensor bias_p = at::zeros({G4}, opt);
  if (b_ih.has_value() && b_ih->defined()) bias_p += to_block_rows(*b_ih, perm);
  if (b_hh.has_value() && b_hh->defined()) bias_p += to_block_rows(*b_hh, perm);
  // ping-pong hidden state (only needed with lengths: the output holds zeros there)
  at::Tensor hbuf = has_len ? at::empty({2, N, H}, opt) : at::Tensor();

  // MKL packed copies of W_hh_p block rows, one per block (scratch owned here).
  std::vector<size_t> pk_off(blk.nb + 1, 0);
  for (int b = 0; b < blk.nb; ++b)
    pk_off[b + 1] = pk_off[b] + (PackedB::bytes(N, 4 * blk.size(b), H) / 4 + 16) / 16 * 16;
  at::Tensor pk_store = at::empty({(int64_t)std::max<size_t>(pk_off[blk.nb], 1)}, opt);
  std::vector<PackedB> pk(blk.nb);

  ErrorSlot err;
  float* G = gates.data_ptr<float>();
  // 1) input projection for all timesteps (bias is added in the pointwise pass)
  big_gemm_rows((int64_t)T * N, G4, I, x.data_ptr<float>(), I, wih_p.data_ptr<float>(), I, true, G, G4, &err);

  const float* Wp = whh_p.data_ptr<float>();
  const float* Bp = bias_p.data_ptr<float>();
  const float* H0 = h0.data_ptr<float>();
  float* OUT = output.data_ptr<float>();
  float* CS = c_n.data_ptr<float>();
  float* CB = training ? cells.data_ptr<float>() : nullptr;
  float* HB = has_len ? hbuf.data_ptr<float>() : nullptr;
  const int64_t NH = (int64_t)N * H, NG = (int64_t)N * G4;

  // 2) the recurrence
  run_threads(blk.nb, [&](int tid, int nth) {
    const int b0 = blk.nb * tid / nth, b1 = blk.nb * (tid + 1) / nth;
    for (int b = b0; b < b1; ++b)
      pk[b].pack(N, 4 * blk.size(b), H, Wp + (int64_t)4 * blk.u[b] * H, H, true,
                 PackedB::bytes(N, 4 * blk.size(b), H) ? pk_store.data_ptr<float>() + pk_off[b] : nullptr);
    for (int s = 0; s < T; ++s) {
      const int t = reverse ? T - 1 - s : s;
      const int tp = reverse ? t + 1 : t - 1;
      const float* hp = s == 0 ? H0 : (has_len ? HB + (int64_t)((s - 1) & 1) * NH : OUT + tp * NH);
      float* hnext = has_len ? HB + (int64_t)(s & 1) * NH : nullptr;
      float* Gt = G + t * NG;
      float* Ot = OUT + t * NH;
      float* Ct = CB ? CB + t * NH : nullptr;
      for (int b = b0; b < b1; ++b) {
        const int u0 = blk.u[b], sz = blk.size(b);
        const int64_t gofs = 4 * (int64_t)u0;
        pk[b].run(hp, H, 1.f, Gt + gofs, G4, &err);
        const float* bias = Bp + gofs;
        for (int n = 0; n < N; ++n) {
          float* g = Gt + (int64_t)n * G4 + gofs;
          const int64_t so = (int64_t)n * H + u0;
          if (has_len && t >= len[n]) {  // inactive: state frozen, output 0
            std::memset(Ot + so, 0, sizeof(float) * sz);
            std::memcpy(hnext + so, hp + so, sizeof(float) * sz);
            if (Ct) std::memcpy(Ct + so, CS + so, sizeof(float) * sz);
            if (training) std::memset(g, 0, sizeof(float) * 4 * sz);
            continue;
          }
          for (int j = 0; j < sz; j += VW) {
            const int m = std::min(VW, sz - j);
            vf ig = vsigmoid(ldn(g + j, m) + ldn(bias + j, m));
            vf fg = vsigmoid(ldn(g + sz + j, m) + ldn(bias + sz + j, m));
            vf gg = vtanh(ldn(g + 2 * sz + j, m) + ldn(bias + 2 * sz + j, m));
            vf og = vsigmoid(ldn(g + 3 * sz + j, m) + ldn(bias + 3 * sz + j, m));
            vf c = fg * ldn(CS + so + j, m) + ig * gg;
            vf h = og * vtanh(c);
            stn(CS + so + j, c, m);
            stn(Ot + so + j, h, m);
            if (hnext) stn(hnext + so + j, h, m);
            if (training) {
              stn(Ct + so + j, c, m);
              stn(g + j, ig, m);
              stn(g + sz + j, fg, m);
              stn(g + 2 * sz + j, gg, m);
              stn(g + 3 * sz + j, og, m);
            }
          }
        }
      }
      barrier(nth);
    }
  });
  if (err.set) TORCH_CHECK(false, "lstmkit fused forward: ", err.msg);

  if (has_len) h_n.copy_(hbuf[(T - 1) & 1]);
  else h_n.copy_(output[reverse ? 0 : T - 1]);
  if (!training) gates = at::empty({0}, opt);
  return {output, h_n, c_n, gates, cells};
}

// ---------------------------------------------------------------------------------------
// Backward.
//   Saved: x, h0, c0, w_ih, w_hh, output (T,N,H), gates (T,N,4H) activated block layout,
//   cells (T,N,H).  Incoming: d_out (T,N,H), d_hn (N,H), d_cn (N,H).
//   need: [x, h0, c0, w_ih, w_hh, bias] gradient flags.
// Returns [dx (T,N,I), dh0, dc0, dw_ih (4H,I), dw_hh (4H,H), db (4H)] (undefined if not needed).
// Scratch owned here: dG (T,N,4H) block layout, dh/dc running (N,H), packed W_hh_p columns.
// ---------------------------------------------------------------------------------------
std::vector<at::Tensor> lstm_backward(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& c0,
                                      const at::Tensor& w_ih, const at::Tensor& w_hh,
                                      const at::Tensor& output, const at::Tensor& gates,
                                      const at::Tensor& cells, const at::Tensor& d_out,
                                      const at::Tensor& d_hn, const at::Tensor& d_cn, bool reverse,
                                      const c10::optional<at::Tensor>& lengths_opt,
                                      std::vector<bool> need) {
  const int T = (int)x.size(0), N = (int)x.size(1), I = (int)x.size(2), H = (int)w_hh.size(1);
  const int G4 = 4 * H;
  TORCH_CHECK(d_out.is_contiguous() && d_hn.is_contiguous() && d_cn.is_contiguous(), "grads must be contiguous");
  TORCH_CHECK(gates.numel() == (int64_t)T * N * G4 && cells.numel() == (int64_t)T * N * H, "missing saved buffers");
  TORCH_CHECK(need.size() == 6, "need must have 6 flags");
  const bool has_len = lengths_opt.has_value() && lengths_opt->defined();
  const int64_t* len = has_len ? lengths_opt->data_ptr<int64_t>() : nullptr;
  auto opt = x.options();

  at::Tensor dh = d_hn.clone();  // running dL/dh_{t} coming from the future (N,H)
  at::Tensor dc = d_cn.clone();  // running dL/dc_{t} (N,H)
  at::Tensor dG = at::empty({T, N, G4}, opt);
  at::Tensor dx, dw_ih, dw_hh, db;
  if (T == 0 || N == 0 || H == 0) {
    if (need[0]) dx = at::zeros_like(x);
    if (need[3]) dw_ih = at::zeros_like(w_ih);
    if (need[4]) dw_hh = at::zeros_like(w_hh);
    if (need[5]) db = at::zeros({G4}, opt);
    return {dx, dh, dc, dw_ih, dw_hh, db};
  }

  Blocks blk(H);
  auto perm = blk.perm();
  at::Tensor wih_p = to_block_rows(w_ih, perm);
  at::Tensor whh_p = to_block_rows(w_hh, perm);
  std::vector<size_t> pk_off(blk.nb + 1, 0);
  for (int b = 0; b < blk.nb; ++b)
    pk_off[b + 1] = pk_off[b] + (PackedB::bytes(N, blk.size(b), G4) / 4 + 16) / 16 * 16;
  at::Tensor pk_store = at::empty({(int64_t)std::max<size_t>(pk_off[blk.nb], 1)}, opt);
  std::vector<PackedB> pk(blk.nb);

  ErrorSlot err;
  const float* Wp = whh_p.data_ptr<float>();
  const float* GA = gates.data_ptr<float>();
  const float* CB = cells.data_ptr<float>();
  const float* C0 = c0.data_ptr<float>();
  const float* DO = d_out.data_ptr<float>();
  float* DG = dG.data_ptr<float>();
  float* DH = dh.data_ptr<float>();
  float* DC = dc.data_ptr<float>();
  const int64_t NH = (int64_t)N * H, NG = (int64_t)N * G4;

  run_threads(blk.nb, [&](int tid, int nth) {
    const int b0 = blk.nb * tid / nth, b1 = blk.nb * (tid + 1) / nth;
    for (int b = b0; b < b1; ++b)
      pk[b].pack(N, blk.size(b), G4, Wp + blk.u[b], H, false,
                 PackedB::bytes(N, blk.size(b), G4) ? pk_store.data_ptr<float>() + pk_off[b] : nullptr);
    for (int s = T - 1; s >= 0; --s) {
      const int t = reverse ? T - 1 - s : s;
      const int tp = reverse ? t + 1 : t - 1;
      const float* Cprev = s == 0 ? C0 : CB + tp * NH;
      const float* Gt = GA + t * NG;
      const float* Ct = CB + t * NH;
      const float* DOt = DO + t * NH;
      float* DGt = DG + t * NG;
      for (int b = b0; b < b1; ++b) {
        const int u0 = blk.u[b], sz = blk.size(b);
        const int64_t gofs = 4 * (int64_t)u0;
        for (int n = 0; n < N; ++n) {
          const float* g = Gt + (int64_t)n * G4 + gofs;
          float* dg = DGt + (int64_t)n * G4 + gofs;
          const int64_t so = (int64_t)n * H + u0;
          if (has_len && t >= len[n]) {  // inactive: dG = 0, dh/dc pass through
            std::memset(dg, 0, sizeof(float) * 4 * sz);
            continue;
          }
          for (int j = 0; j < sz; j += VW) {
            const int m = std::min(VW, sz - j);
            vf ig = ldn(g + j, m), fg = ldn(g + sz + j, m), gg = ldn(g + 2 * sz + j, m), og = ldn(g + 3 * sz + j, m);
            vf c = ldn(Ct + so + j, m), cp = ldn(Cprev + so + j, m);
            vf dht = ldn(DH + so + j, m) + ldn(DOt + so + j, m);
            vf tc = vtanh(c);
            vf dct = ldn(DC + so + j, m) + dht * og * (1.0f - tc * tc);
            stn(dg + j, dct * gg * ig * (1.0f - ig), m);
            stn(dg + sz + j, dct * cp * fg * (1.0f - fg), m);
            stn(dg + 2 * sz + j, dct * ig * (1.0f - gg * gg), m);
            stn(dg + 3 * sz + j, dht * tc * og * (1.0f - og), m);
            stn(DC + so + j, dct * fg, m);
            if (has_len) stn(DH + so + j, splat(0.f), m);
          }
        }
      }
      barrier(nth);
      // dh_{t-1}[:, blk] (+)= dG_t W_hh_p[:, blk]   (inactive rows: dG = 0, dh passes through)
      for (int b = b0; b < b1; ++b) pk[b].run(DGt, G4, has_len ? 1.f : 0.f, DH + blk.u[b], H, &err);
    }
  });
  if (err.set) TORCH_CHECK(false, "lstmkit fused backward: ", err.msg);

  const int64_t R = (int64_t)T * N;
  // dX = dG W_ih_p
  if (need[0]) {
    dx = at::empty({T, N, I}, opt);
    big_gemm_rows(R, I, G4, DG, G4, wih_p.data_ptr<float>(), I, false, dx.data_ptr<float>(), I, &err);
  }
  // dW_ih_p = dG^T X ; dW_hh_p = sum_steps dG_t^T h_{t-1}; db_p = colsum(dG)
  at::Tensor dwih_p = need[3] ? at::empty({G4, I}, opt) : at::Tensor();
  at::Tensor dwhh_p = need[4] ? at::empty({G4, H}, opt) : at::Tensor();
  at::Tensor db_p = need[5] ? at::empty({G4}, opt) : at::Tensor();
  // rows of dG whose previous hidden state is h0 (the first real step of each sequence)
  at::Tensor dstart;
  const float* DS = nullptr;
  if (need[4]) {
    if (has_len && reverse) {
      dstart = at::empty({N, G4}, opt);
      for (int n = 0; n < N; ++n)
        std::memcpy(dstart.data_ptr<float>() + (int64_t)n * G4, DG + (len[n] - 1) * NG + (int64_t)n * G4, sizeof(float) * G4);
      DS = dstart.data_ptr<float>();
    } else {
      DS = DG + (reverse ? (int64_t)(T - 1) * NG : 0);
    }
  }
  // dG rows (steps after the first) and the matching previous outputs, contiguous
  const float* DGrest = DG + (reverse ? 0 : NG);
  const float* Hrest = output.data_ptr<float>() + (reverse ? NH : 0);
  const int64_t Rrest = (int64_t)(T - 1) * N;
  TORCH_CHECK(Rrest < INT32_MAX && R < INT32_MAX, "sequence too long for 32-bit BLAS");
  const float* X = x.data_ptr<float>();
  const float* H0 = h0.data_ptr<float>();
  const int nwc = (G4 + kColChunk - 1) / kColChunk;
  const int njobs = (need[3] ? nwc : 0) + (need[4] ? nwc : 0) + (need[5] ? nwc : 0);
  parallel_chunks(njobs, [&](int64_t job) {
    int c = (int)job;
    int which = 0;
    for (int w = 3; w <= 5; ++w) {
      if (!need[w]) continue;
      if (c < nwc) { which = w; break; }
      c -= nwc;
    }
    const int r0 = c * kColChunk, rows = std::min(kColChunk, G4 - r0);
    if (which == 3) {
      gemm(true, false, rows, I, (int)R, DG + r0, G4, X, I, 0.f, dwih_p.data_ptr<float>() + (int64_t)r0 * I, I, &err);
    } else if (which == 4) {
      float* C = dwhh_p.data_ptr<float>() + (int64_t)r0 * H;
      gemm(true, false, rows, H, N, DS + r0, G4, H0, H, 0.f, C, H, &err);
      if (Rrest > 0) gemm(true, false, rows, H, (int)Rrest, DGrest + r0, G4, Hrest, H, 1.f, C, H, &err);
    } else if (which == 5) {
      float acc[kColChunk];
      std::fill(acc, acc + kColChunk, 0.f);
      for (int64_t r = 0; r < R; ++r) {
        const float* row = DG + r * G4 + r0;
        for (int k = 0; k < rows; ++k) acc[k] += row[k];
      }
      std::memcpy(db_p.data_ptr<float>() + r0, acc, sizeof(float) * rows);
    }
  });
  if (err.set) TORCH_CHECK(false, "lstmkit fused backward: ", err.msg);
  if (need[3]) dw_ih = from_block_rows(dwih_p, perm);
  if (need[4]) dw_hh = from_block_rows(dwhh_p, perm);
  if (need[5]) db = from_block_rows(db_p, perm);
  return {dx, dh, dc, dw_ih, dw_hh, db};
}

// Diagnostics: which GEMM path is used and how H is blocked.
std::string info(int64_t H) {
  Blas& b = blas();
  static const char* names[] = {"mkl-packed", "mkl-sgemm", "aten-mm"};
  std::string s = std::string("blas=") + names[b.mode] + " (detected " + names[b.detected] + ")";
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

// Select the GEMM path at run time (for tests): 0 packed, 1 sgemm, 2 at::mm; clamped to
// what was detected.  Returns the mode in effect.
int64_t set_blas_mode(int64_t mode) {
  Blas& b = blas();
  b.mode = (int)std::max<int64_t>(b.detected, std::min<int64_t>(2, mode));
  return b.mode;
}

// Elementwise math exposed for accuracy tests.
at::Tensor math_test(const at::Tensor& x, int64_t which) {
  at::Tensor xc = x.contiguous();
  at::Tensor y = at::empty_like(xc);
  const float* p = xc.data_ptr<float>();
  float* q = y.data_ptr<float>();
  const int64_t n = xc.numel();
  for (int64_t i = 0; i < n; i += VW) {
    int m = (int)std::min<int64_t>(VW, n - i);
    vf v = ldn(p + i, m);
    stn(q + i, which == 0 ? vexp(v) : which == 1 ? vsigmoid(v) : vtanh(v), m);
  }
  return y;
}

}  // namespace lstmkit

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("lstm_forward", &lstmkit::lstm_forward, "fused LSTM layer forward");
  m.def("lstm_backward", &lstmkit::lstm_backward, "fused LSTM layer backward");
  m.def("info", &lstmkit::info, "kernel configuration", pybind11::arg("H") = 0);
  m.def("set_blas_mode", &lstmkit::set_blas_mode, "select GEMM path (tests)");
  m.def("math_test", &lstmkit::math_test, "vectorized exp/sigmoid/tanh (tests)");
}

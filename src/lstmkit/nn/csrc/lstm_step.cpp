// lstmkit compiled streaming step: one timestep of a unidirectional LSTM stack (every layer,
// every variant: peephole, layer norm, CIFG, projection), built for batch 1 where the per-call
// overhead is the cost.  Used by lstmkit.LSTM.step() (when no gradient is needed) and by
// lstmkit.LSTM.streamer().
//
// Equations: lstmkit/nn/cells.py (lstm_cell, the oracle), the same as lstm_variants.h:
//   pre   = x W_ih^T + h W_hh^T + b_ih + b_hh                    (plain)
//   pre   = LN_ih(x W_ih^T) + LN_hh(h W_hh^T) + b_ih + b_hh      (layer_norm)
//   f_pre += w_cf * c;  i_pre += w_ci * c                        (peephole)
//   c' = f * c + i * g  (i = 1 - f with cifg);  o_pre += w_co * c'
//   h' = o * tanh(LN_c(c'))   then   h' = h' W_hr^T               (projection)
//
// Design (per call: no torch dispatch, no allocation except the returned tensors):
//  * The weights are read in place from the module's parameter tensors, every call (torch's
//    row-major layout; [W_ih | W_hh] act as one matrix: each gate row is one dot product over
//    the x part then the h part into the same accumulators).  Nothing is copied or packed,
//    so there is no cache of weight values that could go stale: an optimizer step, an
//    in-place edit (even through .data or numpy) or a `.data =` swap is seen by the next call.
//    The parameter objects themselves are looked up in the module's `_parameters` dict each
//    call (a replaced Parameter is picked up) and their dtype/device/shape re-checked.
//  * GEMV: blocks of VW (16 with AVX-512) weight rows, one vector accumulator per row,
//    reduced by a transpose-and-add tree into one vector of VW row sums.  A row's arithmetic
//    depends only on the sizes (block boundaries are fixed by the row count), never on the
//    thread count or the batch size, so results are bitwise identical at 1 and N threads.
//  * Threads: for big layers (H >= ~128) the GEMV rows are cut into chunks fixed by the sizes
//    and each thread owns a fixed contiguous range of chunks, so each core keeps its part of
//    the weights hot in its own L2 across calls; threads that finish take the unclaimed chunks
//    of the others (fused_common.h's own_ranges / run_owned).  The threads are torch's own
//    OpenMP pool (at most at::get_num_threads()), ONE parallel region per step (run_team, with
//    spinning barriers between the phases inside it), never a pool of our own: a second set of
//    spinning threads would compete with torch's for the cores whenever the caller runs torch
//    ops between steps (sampling loops do).  Pointwise work runs on thread 0 at batch 1 (batch
//    rows are split otherwise).
//
// Knob (tuning): LSTMKIT_STEP_PAR_MIN, the weight floats a GEMV phase needs before it is split
// across threads (default 65536).

#include "fused_common.h"
#include <torch/csrc/autograd/python_variable.h>

#include <memory>

namespace py = pybind11;

namespace lstmkit_step {

// From fused_common.h, the same helpers as the other kernel families: the vector math (vf, VW,
// ld / ldn / st / stn, vexp, vsigmoid, vtanh, hsum, row_stats) and the threads (run_team: one
// parallel region on torch's OpenMP pool; SpinBarrier between its phases; own_ranges /
// run_owned: chunks owned per thread, then shared).  Its BLAS helpers are unused here: this kernel has its own GEMV.
using namespace lstmkit::common;

// a * b + c, fused where the ISA has it (ISO C++ mode does not contract a*b+c by itself)
static inline vf vfma(vf a, vf b, vf c) {
#if defined(__AVX512F__) && (LSTMKIT_VW == 16)
  return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__) && (LSTMKIT_VW == 8)
  return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
  return a * b + c;
#endif
}

// ---------------------------------------------------------------------------------------
// GEMV: out[r] = sum over segments s of dot(W_s[r, 0:K_s], v_s[0:K_s]), VW rows at a time.
// ---------------------------------------------------------------------------------------
struct Seg {
  const float* W;  // (R, K) row-major, row stride ld
  int64_t ld;
  int K;
  const float* v;  // (N, K) with batch stride vld
  int64_t vld;
};

// Transpose-and-add tree: lane i of the result = sum of the lanes of a[i].
static inline vf reduce_rows(vf (&a)[VW]) {
#if LSTMKIT_VW == 16
  vf b[8], c[4], d[2];
  for (int i = 0; i < 8; ++i)
    b[i] = __builtin_shufflevector(a[2 * i], a[2 * i + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
           __builtin_shufflevector(a[2 * i], a[2 * i + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  for (int i = 0; i < 4; ++i)
    c[i] = __builtin_shufflevector(b[2 * i], b[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
           __builtin_shufflevector(b[2 * i], b[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  for (int i = 0; i < 2; ++i)
    d[i] = __builtin_shufflevector(c[2 * i], c[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
           __builtin_shufflevector(c[2 * i], c[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
  return __builtin_shufflevector(d[0], d[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
         __builtin_shufflevector(d[0], d[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
#else
  vf c[4], d[2];
  for (int i = 0; i < 4; ++i)
    c[i] = __builtin_shufflevector(a[2 * i], a[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11) +
           __builtin_shufflevector(a[2 * i], a[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15);
  for (int i = 0; i < 2; ++i)
    d[i] = __builtin_shufflevector(c[2 * i], c[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13) +
           __builtin_shufflevector(c[2 * i], c[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15);
  return __builtin_shufflevector(d[0], d[1], 0, 2, 4, 6, 8, 10, 12, 14) +
         __builtin_shufflevector(d[0], d[1], 1, 3, 5, 7, 9, 11, 13, 15);
#endif
}

// acc[i] += W[row i, :] * v over one segment; FULL: rows i = 0..VW-1 at stride ld; else the
// rows past nr - 1 repeat row nr - 1 (their sums are discarded).
template <bool FULL>
static inline void acc_seg(vf (&acc)[VW], const float* W, int64_t ld_, int K, const float* v, int nr) {
  int64_t off[VW];
  for (int i = 0; i < VW; ++i) off[i] = (FULL ? i : std::min(i, nr - 1)) * ld_;
  int k = 0;
  for (; k + VW <= K; k += VW) {
    const vf xv = ld(v + k);
#pragma GCC unroll 16
    for (int i = 0; i < VW; ++i) acc[i] = vfma(ld(W + off[i] + k), xv, acc[i]);
  }
  if (k < K) {
    const int m = K - k;
    const vf xv = ldn(v + k, m);
#pragma GCC unroll 16
    for (int i = 0; i < VW; ++i) acc[i] = vfma(ldn(W + off[i] + k, m), xv, acc[i]);
  }
}

// Rows [r0, r1) of R (r0 a multiple of VW), batch rows [0, N): out[n * ldo + r].
static void gemv_rows(int r0, int r1, int R, const Seg* segs, int nseg, int N, float* out, int64_t ldo) {
  for (int r = r0; r < r1; r += VW) {
    const int nr = std::min(VW, R - r);
    for (int n = 0; n < N; ++n) {
      vf acc[VW];
      for (int i = 0; i < VW; ++i) acc[i] = vf{};
      for (int s = 0; s < nseg; ++s) {
        const Seg& g = segs[s];
        if (nr == VW) acc_seg<true>(acc, g.W + (int64_t)r * g.ld, g.ld, g.K, g.v + n * g.vld, nr);
        else acc_seg<false>(acc, g.W + (int64_t)r * g.ld, g.ld, g.K, g.v + n * g.vld, nr);
      }
      stn(out + n * ldo + r, reduce_rows(acc), nr);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Threads: torch's own OpenMP pool through fused_common.h's run_team; each thread owns a
// fixed, contiguous range of GEMV chunks (own_ranges / run_owned), so each core keeps its
// part of the weights in its own L2 from call to call, and takes the others' leftovers.
// ---------------------------------------------------------------------------------------
constexpr int kMaxThreads = 64;

static int64_t env_int(const char* name, int64_t dflt) {
  const char* e = std::getenv(name);
  return e && *e ? std::atoll(e) : dflt;
}

static int64_t par_min() {
  static const int64_t v = env_int("LSTMKIT_STEP_PAR_MIN", 65536);
  return v;
}

// ---------------------------------------------------------------------------------------
// One layer's weights (raw pointers, valid for one call) and the step.
// ---------------------------------------------------------------------------------------
enum Role {
  W_IH, W_HH, B_IH, B_HH, W_HR, W_CI, W_CF, W_CO, LN_IH_W, LN_IH_B, LN_HH_W, LN_HH_B, LN_C_W, LN_C_B, NROLES
};
// (the order of lstmkit.nn.parameters.ROLES: StepCore gets the names in that order)

struct LayerPtrs {
  const float* p[NROLES];
  int I;
};

struct Dims {
  int L = 0, I = 0, H = 0, P = 0, G = 4, GH = 0;
  bool cifg = false, peep = false, ln = false, proj = false, bias = false;
  float zoneout = 0.f;  // evaluation-mode zoneout: h_t = p h_{t-1} + (1 - p) h_new, c_t alike
};


struct AlignedBuf {
  float* p = nullptr;
  size_t n = 0;
  ~AlignedBuf() { std::free(p); }
  float* get(size_t want) {
    if (want > n) {
      std::free(p);
      p = nullptr;
      size_t bytes = ((std::max<size_t>(want, 16) * sizeof(float)) + 63) / 64 * 64;
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) throw std::bad_alloc();
      n = bytes / sizeof(float);
    }
    return p;
  }
};

// Work description of one GEMV phase (read by the worker threads).
struct GemvJob {
  int R, N, nseg;
  Seg segs[2];
  float* out;
  int64_t ldo;
  int rows_per_chunk;
  // layer norm: a second, independent GEMV in the same phase (chunks after the first's)
  int nchunks_a;
  Seg seg_b;
  float* out_b;
};

static void gemv_chunk(const void* ctx, int c) {
  const GemvJob& j = *static_cast<const GemvJob*>(ctx);
  if (j.out_b && c >= j.nchunks_a) {
    c -= j.nchunks_a;
    const int r0 = c * j.rows_per_chunk, r1 = std::min(j.R, r0 + j.rows_per_chunk);
    gemv_rows(r0, r1, j.R, &j.seg_b, 1, j.N, j.out_b, j.ldo);
    return;
  }
  const int r0 = c * j.rows_per_chunk, r1 = std::min(j.R, r0 + j.rows_per_chunk);
  gemv_rows(r0, r1, j.R, j.segs, j.nseg, j.N, j.out, j.ldo);
}

static void run_gemv(GemvJob& j, int64_t work_floats) {
  // chunks of 4 VW-row blocks (64 rows with AVX-512), fixed by the sizes
  j.rows_per_chunk = 4 * VW;
  const int nc = (j.R + j.rows_per_chunk - 1) / j.rows_per_chunk;
  j.nchunks_a = nc;
  const int total = j.out_b ? 2 * nc : nc;
  int nt = 1;
  if (work_floats >= par_min()) nt = std::min(std::max(1, at::get_num_threads()), std::min(total, kMaxThreads));
  if (nt <= 1) {
    for (int c = 0; c < total; ++c) gemv_chunk(&j, c);
    return;
  }
  ChunkClaim claims[kMaxThreads];
  own_ranges(claims, total, nt);
  run_team(nt, [&](int tid, int) { run_owned(claims, nt, tid, [&](int c) { gemv_chunk(&j, c); }); });
}

// Pointwise step of batch row n of layer l.  g: pre-activation sums (GH) of the row, or with
// layer norm gx (GH) and gh (GH); cprev (H); outputs cnew (H) and hr (H): h, or r with a
// projection.  g / gx is overwritten.
static void pointwise_row(const Dims& d, const LayerPtrs& w, float* gx, const float* gh, const float* cs,
                          float* cnw, float* hr) {
  const int H = d.H, GH = d.GH;
  const float* BI = w.p[B_IH];
  const float* BH = w.p[B_HH];
  if (d.ln) {
    float mu1, rs1, mu2, rs2;
    row_stats(gx, GH, mu1, rs1);
    row_stats(gh, GH, mu2, rs2);
    const float *g1 = w.p[LN_IH_W], *b1 = w.p[LN_IH_B], *g2 = w.p[LN_HH_W], *b2 = w.p[LN_HH_B];
    const vf m1 = splat(mu1), r1 = splat(rs1), m2 = splat(mu2), r2 = splat(rs2);
    for (int j = 0; j < GH; j += VW) {
      const int m = std::min(VW, GH - j);
      vf a = ldn(g1 + j, m) * ((ldn(gx + j, m) - m1) * r1) + ldn(b1 + j, m);
      vf b = ldn(g2 + j, m) * ((ldn(gh + j, m) - m2) * r2) + ldn(b2 + j, m);
      vf v = a + b;
      if (BI) v += ldn(BI + j, m);
      if (BH) v += ldn(BH + j, m);
      stn(gx + j, v, m);
    }
  } else if (BI || BH) {
    for (int j = 0; j < GH; j += VW) {
      const int m = std::min(VW, GH - j);
      vf v = ldn(gx + j, m);
      if (BI) v += ldn(BI + j, m);
      if (BH) v += ldn(BH + j, m);
      stn(gx + j, v, m);
    }
  }
  const float* WCI = w.p[W_CI];
  const float* WCF = w.p[W_CF];
  const float* WCO = w.p[W_CO];
  const int oi = d.cifg ? -1 : 0, of = d.cifg ? 0 : H, og = d.cifg ? H : 2 * H, oo = d.cifg ? 2 * H : 3 * H;
  float* pre = gx;
  for (int j = 0; j < H; j += VW) {
    const int m = std::min(VW, H - j);
    vf cpv = ldn(cs + j, m);
    vf fp = ldn(pre + of + j, m);
    if (WCF) fp += ldn(WCF + j, m) * cpv;
    vf fg = vsigmoid(fp);
    vf ig;
    if (d.cifg) {
      ig = 1.0f - fg;
    } else {
      vf ip = ldn(pre + oi + j, m);
      if (WCI) ip += ldn(WCI + j, m) * cpv;
      ig = vsigmoid(ip);
    }
    vf gg = vtanh(ldn(pre + og + j, m));
    vf cv = fg * cpv + ig * gg;
    vf op = ldn(pre + oo + j, m);
    if (WCO) op += ldn(WCO + j, m) * cv;
    vf ov = vsigmoid(op);
    stn(cnw + j, cv, m);
    if (d.ln) stn(pre + oo + j, ov, m);
    else stn(hr + j, ov * vtanh(cv), m);
  }
  if (d.ln) {
    float cmu, crs;
    row_stats(cnw, H, cmu, crs);
    const float *gc = w.p[LN_C_W], *bc = w.p[LN_C_B];
    const vf mu = splat(cmu), rs = splat(crs);
    for (int j = 0; j < H; j += VW) {
      const int m = std::min(VW, H - j);
      vf xh = (ldn(cnw + j, m) - mu) * rs;
      vf cv = ldn(gc + j, m) * xh + ldn(bc + j, m);
      stn(hr + j, ldn(pre + oo + j, m) * vtanh(cv), m);
    }
  }
}

struct PointJob {
  const Dims* d;
  const LayerPtrs* w;
  float* gx;
  const float* gh;
  int64_t ldg;
  const float* cprev;
  float* cnew;
  float* hr;
  int64_t ldhr;
};

static void point_chunk(const void* ctx, int n) {
  const PointJob& j = *static_cast<const PointJob*>(ctx);
  const int H = j.d->H;
  pointwise_row(*j.d, *j.w, j.gx + n * j.ldg, j.gh ? j.gh + n * j.ldg : nullptr, j.cprev + (int64_t)n * H,
                j.cnew + (int64_t)n * H, j.hr + n * j.ldhr);
}

// The GEMV of layer l: G = [in | h] [W_ih | W_hh]^T  (layer norm: G = in W_ih^T and, as a
// second half of the same phase, G2 = h W_hh^T).
static void layer_gemv(const Dims& d, const LayerPtrs& w, int N, const float* in, int Iin, const float* hp, float* G,
                       GemvJob& j) {
  const int GH = d.GH, P = d.P;
  j = GemvJob{};
  j.R = GH;
  j.N = N;
  j.ldo = GH;
  j.out = G;
  j.segs[0] = Seg{w.p[W_IH], Iin, Iin, in, Iin};
  const Seg sh{w.p[W_HH], P, P, hp, P};
  if (d.ln) {
    j.nseg = 1;
    j.seg_b = sh;
    j.out_b = G + (int64_t)N * GH;
  } else {
    j.nseg = 2;
    j.segs[1] = sh;
    j.out_b = nullptr;
  }
  j.rows_per_chunk = 4 * VW;  // chunks fixed by the sizes
  j.nchunks_a = (j.R + j.rows_per_chunk - 1) / j.rows_per_chunk;
}

// The projection of layer l: h = r W_hr^T.
static void proj_gemv(const Dims& d, const LayerPtrs& w, int N, const float* r, float* ho, GemvJob& q) {
  q = GemvJob{};
  q.R = d.P;
  q.N = N;
  q.ldo = d.P;
  q.out = ho;
  q.nseg = 1;
  q.segs[0] = Seg{w.p[W_HR], d.H, d.H, r, d.H};
  q.out_b = nullptr;
  q.rows_per_chunk = 4 * VW;
  q.nchunks_a = (q.R + q.rows_per_chunk - 1) / q.rows_per_chunk;
}

static inline int job_chunks(const GemvJob& j) { return j.out_b ? 2 * j.nchunks_a : j.nchunks_a; }

// The whole stack, one step.  x (N, I); hprev / hout (L, N, P); cprev / cout (L, N, H).
// With several threads: ONE parallel region for the whole step; per layer the GEMV rows are
// shared out (own chunks, then the others' leftovers), then a barrier, the pointwise pass
// (thread 0 at batch 1, batch rows split otherwise), a barrier (and the projection GEMV).
static void step_all(const Dims& d, const LayerPtrs* layers, int N, const float* x, const float* hprev,
                     const float* cprev, float* hout, float* cout, AlignedBuf& gbuf, AlignedBuf& rbuf) {
  const int H = d.H, P = d.P, GH = d.GH;
  const int64_t NP = (int64_t)N * P, NH = (int64_t)N * H;
  float* G = gbuf.get((size_t)N * GH * (d.ln ? 2 : 1));
  float* Rb = d.proj ? rbuf.get((size_t)NH) : nullptr;
  const int per_layer = d.proj ? 2 : 1;
  const int nph = d.L * per_layer;
  int64_t work = 0;  // the biggest GEMV phase, in weight floats x batch rows
  for (int l = 0; l < d.L; ++l) {
    work = std::max(work, (int64_t)GH * ((l == 0 ? d.I : P) + P) * N);
    if (d.proj) work = std::max(work, (int64_t)P * H * N);
  }
  int nt = work >= par_min() ? std::min(at::get_num_threads(), kMaxThreads) : 1;
#ifdef _OPENMP
  if (omp_in_parallel()) nt = 1;
#else
  nt = 1;
#endif
  std::unique_ptr<ChunkClaim[]> claims;  // per phase, nt owned ranges of its chunks
  if (nt > 1) {
    claims.reset(new ChunkClaim[(size_t)nph * nt]);
    GemvJob j;
    for (int l = 0; l < d.L; ++l) {
      for (int k = 0; k < per_layer; ++k) {
        if (k == 0) layer_gemv(d, layers[l], N, x, l == 0 ? d.I : P, hprev, G, j);  // sizes only
        else proj_gemv(d, layers[l], N, Rb, hout, j);
        own_ranges(claims.get() + (size_t)(l * per_layer + k) * nt, job_chunks(j), nt);
      }
    }
  }
  SpinBarrier bar;
  run_team(nt, [&](int tid, int nth) {
    auto run_phase = [&](const GemvJob& j, int phase) {
      if (!claims) {
        for (int c = 0, nc = job_chunks(j); c < nc; ++c) gemv_chunk(&j, c);
        return;
      }
      run_owned(claims.get() + (size_t)phase * nt, nt, tid, [&](int c) { gemv_chunk(&j, c); });
    };
    const float* in = x;
    int Iin = d.I;
    for (int l = 0; l < d.L; ++l) {
      const LayerPtrs& w = layers[l];
      float* ho = hout + l * NP;
      GemvJob j;
      layer_gemv(d, w, N, in, Iin, hprev + l * NP, G, j);
      run_phase(j, l * per_layer);
      bar.wait(nth);
      PointJob pj{&d, &w, G, d.ln ? G + (int64_t)N * GH : nullptr, GH, cprev + l * NH, cout + l * NH,
                  d.proj ? Rb : ho, d.proj ? H : P};
      const int n0 = N == 1 ? (tid == 0 ? 0 : 1) : (int)((int64_t)N * tid / nth);
      const int n1 = N == 1 ? 1 : (int)((int64_t)N * (tid + 1) / nth);
      for (int n = n0; n < n1; ++n) {
        point_chunk(&pj, n);
        if (d.zoneout > 0.f) {
          float* cn = cout + l * NH + (int64_t)n * H;
          zblend(cn, cprev + l * NH + (int64_t)n * H, cn, d.zoneout, H);
          float* hn = ho + (int64_t)n * P;
          if (!d.proj) zblend(hn, hprev + l * NP + (int64_t)n * P, hn, d.zoneout, P);
        }
      }
      if (d.proj) {
        bar.wait(nth);
        GemvJob q;
        proj_gemv(d, w, N, Rb, ho, q);
        run_phase(q, l * per_layer + 1);
        if (d.zoneout > 0.f) {  // h_new complete (all the GEMV's chunks) before it is blended
          bar.wait(nth);
          for (int n = n0; n < n1; ++n) {
            float* hn = ho + (int64_t)n * P;
            zblend(hn, hprev + l * NP + (int64_t)n * P, hn, d.zoneout, P);
          }
        }
      }
      if (l + 1 < d.L) bar.wait(nth);  // the region's end is the last barrier
      in = ho;
      Iin = P;
    }
  });
}

// ---------------------------------------------------------------------------------------
// The Python object: the parameters of one module (looked up by name in its `_parameters`
// dict at every call), sizes, and (streamer) the carried state.
// ---------------------------------------------------------------------------------------
struct Slot {
  py::object name;
  PyObject* obj = nullptr;  // the Parameter seen last time (a reference is held in `held`)
  py::object held;
  at::Tensor t;
  std::vector<int64_t> shape;
};

// A new float32 CPU tensor, without going through the dispatcher (per-call cost matters here).
static inline at::Tensor new_tensor(std::initializer_list<int64_t> size) {
  return at::Tensor(at::detail::empty_cpu(c10::IntArrayRef(size), at::kFloat, /*pin_memory=*/false,
                                          at::MemoryFormat::Contiguous));
}

// Two new float32 CPU tensors sharing one allocation (the state h and c, which travel together).
static inline std::pair<at::Tensor, at::Tensor> new_tensor_pair(c10::IntArrayRef a, c10::IntArrayRef b) {
  int64_t na = 1, nb = 1;
  for (auto v : a) na *= v;
  for (auto v : b) nb *= v;
  const int64_t off = (na + 15) / 16 * 16;  // 64-byte aligned second tensor
  c10::Storage st(c10::Storage::use_byte_size_t(), (size_t)(off + nb) * sizeof(float), at::getCPUAllocator(),
                  /*resizable=*/true);
  auto make = [&](c10::IntArrayRef size, int64_t offset) {
    at::Tensor t = at::detail::make_tensor<c10::TensorImpl>(c10::Storage(st), c10::DispatchKeySet(c10::DispatchKey::CPU),
                                                            caffe2::TypeMeta::Make<float>());
    t.unsafeGetTensorImpl()->set_sizes_contiguous(size);
    if (offset) t.unsafeGetTensorImpl()->set_storage_offset(offset);
    return t;
  };
  return {make(a, 0), make(b, off)};
}

static inline bool plain_cpu_float(const at::Tensor& t) {
  return t.defined() && t.has_storage() && t.layout() == at::kStrided && t.device().is_cpu() &&
         t.scalar_type() == at::kFloat && !t.is_nested() && !t.is_neg() && !t.is_conj();
}

class __attribute__((visibility("hidden"))) StepCore {
 public:
  StepCore(py::dict params, std::vector<std::vector<std::string>> names, int input_size, int hidden_size,
           int proj_size, bool cifg, bool peephole, bool layer_norm, bool bias, double zoneout, py::object config)
      : params_(std::move(params)), config_(std::move(config)) {
    TORCH_CHECK(zoneout >= 0 && zoneout < 1, "StepCore: zoneout must lie in [0, 1)");
    d_.zoneout = (float)zoneout;
    d_.L = (int)names.size();
    TORCH_CHECK(d_.L >= 1, "StepCore: at least one layer");
    d_.I = input_size;
    d_.H = hidden_size;
    d_.P = proj_size > 0 ? proj_size : hidden_size;
    d_.proj = proj_size > 0;
    d_.cifg = cifg;
    d_.G = cifg ? 3 : 4;
    d_.GH = d_.G * d_.H;
    d_.peep = peephole;
    d_.ln = layer_norm;
    d_.bias = bias;
    slots_.resize((size_t)d_.L * NROLES);
    for (int l = 0; l < d_.L; ++l) {
      TORCH_CHECK((int)names[l].size() == NROLES, "StepCore: ", NROLES, " names per layer");
      const int64_t Iin = l == 0 ? d_.I : d_.P;
      for (int r = 0; r < NROLES; ++r) {
        Slot& s = slots_[(size_t)l * NROLES + r];
        if (names[l][r].empty()) continue;
        s.name = py::str(names[l][r]);
        switch (r) {
          case W_IH: s.shape = {d_.GH, Iin}; break;
          case W_HH: s.shape = {d_.GH, d_.P}; break;
          case B_IH: case B_HH: case LN_IH_W: case LN_IH_B: case LN_HH_W: case LN_HH_B: s.shape = {d_.GH}; break;
          case W_HR: s.shape = {d_.P, d_.H}; break;
          default: s.shape = {d_.H}; break;
        }
      }
    }
    layers_.resize(d_.L);
  }

  py::object config() const { return config_; }
  int64_t calls() const { return calls_; }

  // Refreshes the parameter pointers.  Returns an empty string when usable, else why not.
  // any_grad: some parameter requires grad.
  std::string refresh(bool& any_grad) {
    any_grad = false;
    for (int l = 0; l < d_.L; ++l) {
      LayerPtrs& lp = layers_[l];
      lp.I = l == 0 ? d_.I : d_.P;
      for (int r = 0; r < NROLES; ++r) {
        Slot& s = slots_[(size_t)l * NROLES + r];
        if (!s.name) { lp.p[r] = nullptr; continue; }
        PyObject* cur = PyDict_GetItemWithError(params_.ptr(), s.name.ptr());
        if (!cur) {
          if (PyErr_Occurred()) throw py::error_already_set();
          return "parameter " + std::string(py::str(s.name)) + " is missing";
        }
        if (cur != s.obj) {
          if (!THPVariable_Check(cur)) return "parameter " + std::string(py::str(s.name)) + " is not a tensor";
          s.held = py::reinterpret_borrow<py::object>(cur);
          s.obj = cur;
          s.t = THPVariable_Unpack(cur);
        }
        const at::Tensor& t = s.t;
        if (!plain_cpu_float(t)) return "parameters must be float32 CPU tensors";
        if (t.sizes() != c10::IntArrayRef(s.shape)) return "parameter " + std::string(py::str(s.name)) + " has an unexpected shape";
        if (!t.is_contiguous()) return "parameters must be contiguous";
        any_grad = any_grad || t.requires_grad();
        lp.p[r] = t.data_ptr<float>();
      }
    }
    return std::string();
  }

  // LSTM.step's compiled path: (y, (h, c)) or None when the reference must run (gradient
  // needed, other dtype/device, tensor subclass, parameters unusable, bad input: the
  // reference then validates and raises).
  py::object try_step(py::handle xh, py::handle state) {
    PyObject* xo = xh.ptr();
    if (!THPVariable_CheckExact(xo)) return py::none();
    at::Tensor x = THPVariable_Unpack(xo);
    if (!plain_cpu_float(x)) return py::none();
    const int64_t xd = x.dim();
    if ((xd != 1 && xd != 2) || x.size(-1) != d_.I) return py::none();
    const bool unbatched = xd == 1;
    const int64_t N = unbatched ? 1 : x.size(0);
    if (N < 1 || N > INT32_MAX / std::max(1, d_.GH)) return py::none();
    const bool grad_mode = at::GradMode::is_enabled();
    if (grad_mode && x.requires_grad()) return py::none();
    at::Tensor h0, c0;
    if (!state.is_none()) {
      PyObject* so = state.ptr();
      if (!(PyTuple_Check(so) || PyList_Check(so)) || PySequence_Size(so) != 2) return py::none();
      PyObject* ho = PyTuple_Check(so) ? PyTuple_GET_ITEM(so, 0) : PyList_GET_ITEM(so, 0);
      PyObject* co = PyTuple_Check(so) ? PyTuple_GET_ITEM(so, 1) : PyList_GET_ITEM(so, 1);
      if (!THPVariable_CheckExact(ho) || !THPVariable_CheckExact(co)) return py::none();
      h0 = THPVariable_Unpack(ho);
      c0 = THPVariable_Unpack(co);
      if (!plain_cpu_float(h0) || !plain_cpu_float(c0)) return py::none();
      if (grad_mode && (h0.requires_grad() || c0.requires_grad())) return py::none();
      if (!state_shape_ok(h0, N, d_.P, unbatched) || !state_shape_ok(c0, N, d_.H, unbatched)) return py::none();
      if (h0._fw_grad(0).defined() || c0._fw_grad(0).defined()) return py::none();
      h0 = h0.contiguous();
      c0 = c0.contiguous();
    }
    if (x._fw_grad(0).defined()) return py::none();
    bool any_grad = false;
    if (!refresh(any_grad).empty()) return py::none();
    if (grad_mode && any_grad) return py::none();
    x = x.contiguous();
    const int L = d_.L, P = d_.P, H = d_.H;
    at::Tensor hn, cn;
    if (unbatched) std::tie(hn, cn) = new_tensor_pair({L, P}, {L, H});
    else std::tie(hn, cn) = new_tensor_pair({L, N, P}, {L, N, H});
    at::Tensor y = unbatched ? new_tensor({P}) : new_tensor({N, P});
    const float* hp;
    const float* cp;
    if (h0.defined()) {
      hp = h0.data_ptr<float>();
      cp = c0.data_ptr<float>();
    } else {
      const size_t nz = (size_t)L * N * std::max(P, H);
      float* z = zeros_.get(nz);
      if (zeros_n_ < nz) { std::memset(z, 0, nz * sizeof(float)); zeros_n_ = nz; }
      hp = cp = z;
    }
    float* HO = hn.data_ptr<float>();
    step_all(d_, layers_.data(), (int)N, x.data_ptr<float>(), hp, cp, HO, cn.data_ptr<float>(), gbuf_, rbuf_);
    std::memcpy(y.data_ptr<float>(), HO + (int64_t)(L - 1) * N * P, sizeof(float) * N * P);
    ++calls_;
    return py::make_tuple(y, py::make_tuple(hn, cn));
  }

  // ---- streamer: the state lives here ------------------------------------------------
  at::Tensor stream(const at::Tensor& x_in) {
    if (!plain_cpu_float(x_in))
      throw py::value_error("streamer.step: x_t must be a float32 CPU tensor, got " + std::string(x_in.toString()) +
                            " on " + x_in.device().str());
    const int64_t xd = x_in.dim();
    if ((xd != 1 && xd != 2) || x_in.size(-1) != d_.I)
      throw py::value_error("streamer.step: x_t must be (N, " + std::to_string(d_.I) + ") or (" + std::to_string(d_.I) +
                            ",), got " + shape_str(x_in));
    const bool unbatched = xd == 1;
    const int64_t N = unbatched ? 1 : x_in.size(0);
    if (N < 1) throw py::value_error("streamer.step: x_t has an empty batch");
    if (has_state_) {
      if (N != sN_ || unbatched != s_unbatched_)
        throw py::value_error("streamer.step: the state is for " + layout_str(sN_, s_unbatched_) + " but x_t is " +
                              layout_str(N, unbatched) + "; call reset() to start a new stream");
    } else {
      set_zero_state(N, unbatched);
    }
    bool any_grad = false;
    std::string why = refresh(any_grad);
    if (!why.empty()) throw std::runtime_error("streamer.step: the module changed (" + why + "); make a new streamer");
    at::Tensor x = x_in.contiguous();
    const int L = d_.L, P = d_.P, H = d_.H;
    const int64_t SP = (int64_t)L * N * P, SH = (int64_t)L * N * H;
    float* hb = hbuf_.get(2 * SP);
    float* cb = cbuf_.get(2 * SH);
    const int cur = cur_, nxt = cur_ ^ 1;
    step_all(d_, layers_.data(), (int)N, x.data_ptr<float>(), hb + cur * SP, cb + cur * SH, hb + nxt * SP, cb + nxt * SH,
             gbuf_, rbuf_);
    cur_ = nxt;
    ++calls_;
    at::Tensor y = unbatched ? new_tensor({P}) : new_tensor({N, P});
    std::memcpy(y.data_ptr<float>(), hb + nxt * SP + (int64_t)(L - 1) * N * P, sizeof(float) * N * P);
    return y;
  }

  void set_state(const at::Tensor& h, const at::Tensor& c, bool unbatched) {
    TORCH_CHECK(plain_cpu_float(h) && plain_cpu_float(c), "state must be float32 CPU tensors");
    const int64_t N = unbatched ? 1 : h.size(1);
    TORCH_CHECK(state_shape_ok(h, N, d_.P, unbatched) && state_shape_ok(c, N, d_.H, unbatched), "bad state shapes");
    set_zero_state(N, unbatched);
    const int64_t SP = (int64_t)d_.L * N * d_.P, SH = (int64_t)d_.L * N * d_.H;
    std::memcpy(hbuf_.p + cur_ * SP, h.contiguous().data_ptr<float>(), sizeof(float) * SP);
    std::memcpy(cbuf_.p + cur_ * SH, c.contiguous().data_ptr<float>(), sizeof(float) * SH);
  }

  void clear_state() { has_state_ = false; }

  py::object get_state() const {
    if (!has_state_) return py::none();
    const int64_t N = sN_, L = d_.L;
    const int64_t SP = L * N * d_.P, SH = L * N * d_.H;
    at::Tensor h = s_unbatched_ ? new_tensor({L, (int64_t)d_.P}) : new_tensor({L, N, (int64_t)d_.P});
    at::Tensor c = s_unbatched_ ? new_tensor({L, (int64_t)d_.H}) : new_tensor({L, N, (int64_t)d_.H});
    std::memcpy(h.data_ptr<float>(), hbuf_.p + cur_ * SP, sizeof(float) * SP);
    std::memcpy(c.data_ptr<float>(), cbuf_.p + cur_ * SH, sizeof(float) * SH);
    return py::make_tuple(h, c);
  }

 private:
  bool state_shape_ok(const at::Tensor& t, int64_t N, int64_t last, bool unbatched) const {
    if (unbatched) return t.dim() == 2 && t.size(0) == d_.L && t.size(1) == last;
    return t.dim() == 3 && t.size(0) == d_.L && t.size(1) == N && t.size(2) == last;
  }
  static std::string shape_str(const at::Tensor& t) {
    std::string s = "(";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + (t.dim() == 1 ? ",)" : ")");
  }
  static std::string layout_str(int64_t N, bool unbatched) {
    return unbatched ? std::string("unbatched (1-D) input") : "a batch of " + std::to_string(N);
  }
  void set_zero_state(int64_t N, bool unbatched) {
    const int64_t SP = (int64_t)d_.L * N * d_.P, SH = (int64_t)d_.L * N * d_.H;
    float* hb = hbuf_.get(2 * SP);
    float* cb = cbuf_.get(2 * SH);
    std::memset(hb, 0, sizeof(float) * 2 * SP);
    std::memset(cb, 0, sizeof(float) * 2 * SH);
    cur_ = 0;
    sN_ = N;
    s_unbatched_ = unbatched;
    has_state_ = true;
  }

  py::dict params_;
  py::object config_;
  Dims d_;
  std::vector<Slot> slots_;
  std::vector<LayerPtrs> layers_;
  AlignedBuf gbuf_, rbuf_, zeros_, hbuf_, cbuf_;
  size_t zeros_n_ = 0;
  int cur_ = 0;
  int64_t sN_ = 0;
  bool s_unbatched_ = false;
  bool has_state_ = false;
  int64_t calls_ = 0;  // compiled steps run (tests, reports)
};

static std::string info() {
  std::string s = "step kernel: vector_width=" + std::to_string(VW);
  s += " threads=" + std::to_string(at::get_num_threads());
  s += " par_min=" + std::to_string(par_min());
  return s;
}

// GEMV micro-benchmark hook for tuning: out = W v (+ W2 v2 when W2 is not empty), W (R, K).
static void gemv_test(const at::Tensor& W, const at::Tensor& v, const at::Tensor& W2, const at::Tensor& v2,
                      at::Tensor& out, int64_t min_par) {
  TORCH_CHECK(plain_cpu_float(W) && plain_cpu_float(v) && plain_cpu_float(out), "float32 CPU");
  TORCH_CHECK(W.is_contiguous() && v.is_contiguous() && out.is_contiguous(), "contiguous");
  const int R = (int)W.size(0), K = (int)W.size(1), N = (int)v.size(0);
  GemvJob j{};
  j.R = R;
  j.N = N;
  j.ldo = R;
  j.out = out.data_ptr<float>();
  j.nseg = 1;
  j.segs[0] = Seg{W.data_ptr<float>(), K, K, v.data_ptr<float>(), K};
  int64_t work = (int64_t)R * K * N;
  if (W2.numel() > 0) {
    const int K2 = (int)W2.size(1);
    j.nseg = 2;
    j.segs[1] = Seg{W2.data_ptr<float>(), K2, K2, v2.data_ptr<float>(), K2};
    work += (int64_t)R * K2 * N;
  }
  j.out_b = nullptr;
  run_gemv(j, work >= min_par ? INT64_MAX : 0);
}

}  // namespace lstmkit_step

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  using lstmkit_step::StepCore;
  py::class_<StepCore>(m, "StepCore")
      .def(py::init<py::dict, std::vector<std::vector<std::string>>, int, int, int, bool, bool, bool, bool, double,
                    py::object>(),
           py::arg("params"), py::arg("names"), py::arg("input_size"), py::arg("hidden_size"), py::arg("proj_size"),
           py::arg("cifg"), py::arg("peephole"), py::arg("layer_norm"), py::arg("bias"), py::arg("zoneout"),
           py::arg("config"))
      .def_property_readonly("config", &StepCore::config)
      .def_property_readonly("calls", &StepCore::calls)
      .def("try_step", &StepCore::try_step, py::arg("x"), py::arg("state"))
      .def("stream", &StepCore::stream, py::arg("x"))
      .def("set_state", &StepCore::set_state, py::arg("h"), py::arg("c"), py::arg("unbatched"))
      .def("clear_state", &StepCore::clear_state)
      .def("get_state", &StepCore::get_state)
      // a core belongs to one module's parameter dict: copies and pickles of the module get none
      // (the module builds its own on its next step() call)
      .def("__deepcopy__", [](const StepCore&, py::handle) { return py::none(); })
      .def("__copy__", [](const StepCore&) { return py::none(); })
      .def("__reduce__", [](const StepCore&) {
        return py::make_tuple(py::module_::import("builtins").attr("type")(py::none()), py::tuple());
      });
  m.def("info", &lstmkit_step::info, "step kernel configuration");
  m.def("gemv_test", &lstmkit_step::gemv_test, "GEMV timing (tuning)");
}

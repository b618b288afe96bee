// lstmkit fused CPU kernels: one LSTM layer-direction, forward and backward (BPTT).
//
// Equations (torch gate order i, f, g, o along the 4H rows of the weights):
//   a_t  = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh            (N, 4H)
//   i = sigmoid(a_i)  f = sigmoid(a_f)  g = tanh(a_g)  o = sigmoid(a_o)
//   c_t  = f * c_{t-1} + i * g
//   h_t  = o * tanh(c_t)
//
// Optional projection (torch.nn.LSTM(proj_size=P)): r_t = o * tanh(c_t), h_t = r_t W_hr^T
// (P, H); then W_hh is (4H, P) and h has P columns.
//
// Structure of one call (forward or backward is ONE call for the whole sequence):
//   * The hidden units are cut into `nb` blocks (sizes fixed by H only, never by the thread
//     count).  The 4H gate rows of W_ih, W_hh and the biases are permuted ("block layout")
//     so that all four gates of one block are adjacent: [blk0: i f g o | blk1: i f g o | ...].
//     Gate buffers below are always in this block layout.
//   * Forward (one OpenMP parallel region for the whole sequence; each thread owns fixed
//     blocks): the input projection X W_ih_p^T is done as GEMMs of Tc steps at a time
//     (Tc*N >= 256 rows) into a cache-resident ring buffer, then per step
//     G[t][:, blk] += h_{t-1} W_hh_p[blk]^T (MKL packed, W_hh_p packed once per call) and one
//     fused pointwise pass (bias, activations, cell update, saving the activated gates and
//     c_t for the backward); one barrier per step (two with projection).
//   * Backward: per step a pointwise pass writes dG[t] (gradients of the pre-activations)
//     and accumulates the bias gradient for the owned blocks, a barrier, then
//     dh[:, grp] = dG[t] W_hh_p[:, grp]; after the loop dX, dW_ih, dW_hh (and dW_hr) are big
//     GEMMs over all of dG (the weight gradients per 512-column chunk of dG, each written
//     transposed straight into torch's row order while in cache).
//   * Large scratch and saved buffers come from a pool that keeps released blocks for reuse
//     (BigPool: no page faults on fresh memory at every call).
//   * Every GEMM call and every pointwise element is computed by exactly the same code with
//     the same arguments whatever the number of threads (work is cut into pieces fixed by
//     the sizes, MKL runs single-threaded inside our threads), so results are bitwise
//     identical at 1 and at N threads (torch.set_num_threads).
//   * GEMMs call MKL directly (sgemm_, cblas_sgemm_pack/compute, resolved with dlsym from
//     libtorch_cpu); without those symbols they fall back to at::mm.  oneDNN's brgemm ukernel
//     can be enabled with LSTMKIT_FUSED_BRGEMM=1.  Denormals are flushed inside the kernels.
//
// Environment knobs (tuning/diagnostics only): LSTMKIT_FUSED_BLAS=0|1|2 (packed|sgemm|at::mm),
// LSTMKIT_FUSED_BRGEMM=1 (and its limits _MAXK, _TN_MAXM, _MAXPANEL: fused_common.h),
// LSTMKIT_FUSED_BLOCK=<units per block>, LSTMKIT_FUSED_TCHUNK=<steps>,
// LSTMKIT_FUSED_PROFILE=1|cpu (per-call phase times on stderr, wall or thread CPU time; inside
// the loops thread 0's phases, prefixed t0:), LSTMKIT_FUSED_POOL_MB=<MiB kept by the buffer
// pool, 0 = no pool; default 1024>.
//
// Memory ownership: every buffer is an at::Tensor allocated by the entry points below
// (lstm_forward / lstm_backward) and lives until they return (scratch) or is returned to
// Python (outputs, saved buffers); large scratch and saved buffers are pool-backed tensors
// (pooled_empty) whose blocks go back to the pool when the tensor is freed.  Worker threads never allocate; they only write to
// disjoint column blocks of the shared buffers.  Packed-weight scratch is also an at::Tensor
// owned by the entry point.

#define LSTMKIT_WITH_BRGEMM 1  // this family has the opt-in oneDNN brgemm path (fused_common.h)
#include "fused_common.h"


#include <initializer_list>
#include <map>

namespace lstmkit {

// BLAS binding, PackedB, threads, vector math, Blocks, PhaseTimer: fused_common.h.
using namespace common;

// BigPool, PoolAllocator, pooled_empty: fused_common.h.

// chunk_threads, parallel_chunks_tid, transpose_to_rows, kColChunk: fused_common.h.

// Per-thread phase accumulators inside a parallel loop (profiling only; thread 0's are
// reported through PhaseTimer::add): mark(k) charges the time since the last mark to k.
struct LoopProf {
  bool on = false, cpu = false;
  double ms[8] = {};
  double t = 0;
  LoopProf() = default;
  LoopProf(const PhaseTimer& pt, bool active) : on(pt.on && active), cpu(pt.cpu) { if (on) t = prof_now_ms(cpu); }
  void mark(int k) {
    if (!on) return;
    double n = prof_now_ms(cpu);
    ms[k] += n - t;
    t = n;
  }
  void report(PhaseTimer& pt, std::initializer_list<const char*> names) const {
    int k = 0;
    for (const char* nm : names) pt.add(nm, ms[k++]);
  }
};

// The gate rows of w in block layout (Blocks::perm, fused_common.h), in a pooled tensor.
static at::Tensor to_block_rows(const at::Tensor& w, const std::vector<int64_t>& perm) {
  auto idx = at::from_blob(const_cast<int64_t*>(perm.data()), {(int64_t)perm.size()}, at::kLong);
  at::Tensor out = pooled_empty(w.sizes(), w.options());
  at::index_select_out(out, w, 0, idx);
  return out;
}

// C(R, Nc) = A(R, K) op(W) with op(W) = W^T (W stored (Nc, K)) or W (stored (K, Nc)), in
// fixed row chunks (gemm_row_chunks, fused_common.h); the packed op(W) in a pooled buffer.
// post(r0, rows), if given, runs on each chunk's rows right after its GEMM (while they are
// in cache).
template <class Post = NoPost>
static void big_gemm_rows(int64_t R, int Nc, int K, const float* A, int lda, const float* W,
                          int ldw, bool transW, float* C, int ldc, ErrorSlot* err, Post post = Post()) {
  gemm_row_chunks([](int64_t n) { return pooled_empty({n}, at::TensorOptions().dtype(at::kFloat)); }, 0, R, Nc, K,
                  A, lda, W, ldw, transW, C, ldc, err, post);
}

// ---------------------------------------------------------------------------------------
// Forward pointwise pass for one row (one sequence) of one block of `sz` hidden units.
//   pre   (4*sz)  gate pre-activations without bias, block layout [i | f | g | o]
//   bias  (4*sz)  b_ih + b_hh, block layout
//   cs    (sz)    cell state: c_{t-1} in, c_t out (in place)
//   hout  (sz)    output[t] row;  hnext (sz) next-step GEMM operand row (may be null)
//   csave (sz)    saved c_t (may be null);  gsave (4*sz) saved activated gates (may be null,
//                 may alias pre)
// ---------------------------------------------------------------------------------------
static inline void fwd_point(const float* pre, const float* bias, int sz, float* cs, float* hout,
                             float* hnext, float* csave, float* gsave) {
  for (int j = 0; j < sz; j += VW) {
    const int m = std::min(VW, sz - j);
    vf ig = vsigmoid(ldn(pre + j, m) + ldn(bias + j, m));
    vf fg = vsigmoid(ldn(pre + sz + j, m) + ldn(bias + sz + j, m));
    vf gg = vtanh(ldn(pre + 2 * sz + j, m) + ldn(bias + 2 * sz + j, m));
    vf og = vsigmoid(ldn(pre + 3 * sz + j, m) + ldn(bias + 3 * sz + j, m));
    vf c = fg * ldn(cs + j, m) + ig * gg;
    vf h = og * vtanh(c);
    stn(cs + j, c, m);
    stn(hout + j, h, m);
    if (hnext) stn(hnext + j, h, m);
    if (csave) stn(csave + j, c, m);
    if (gsave) {
      stn(gsave + j, ig, m);
      stn(gsave + sz + j, fg, m);
      stn(gsave + 2 * sz + j, gg, m);
      stn(gsave + 3 * sz + j, og, m);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Forward.
//   x (T,N,I), h0/c0 (N,H), w_ih (4H,I), w_hh (4H,H), b_ih/b_hh (4H) or undefined,
//   lengths (N) int64 or undefined.
//   w_hr (P,H) or undefined: projection h_t = W_hr (o * tanh c_t) (then w_hh is (4H,P) and
//   h0 is (N,P)); P == H without projection.
// Returns [output (T,N,P), h_n (N,P), c_n (N,H), gates (T,N,4H) block layout, activated,
//          cells (T,N,H), rbuf (T,N,H) r_t = o*tanh(c_t) (projection only)]; gates, cells
//          and rbuf are empty tensors when training == false.
//
// Schedule.  The input projection is done for Tc steps at a time (Tc*N >= ~256 rows, a
// GEMM-sized chunk) into a small ring buffer Gc (Tc, N, 4H) that stays in cache, inside the
// same parallel region as the recurrence: each thread projects only the gate columns of its
// own blocks, so no extra barrier is needed.  Per step and block:
//   Gc[t][:, blk] += h_{t-1} W_hh_p[blk]^T     (MKL packed GEMM, W_hh_p block packed once)
//   pointwise(Gc[t][:, blk] + bias)  ->  c_t, h_t (and the saved activated gates / c_t)
// one barrier per step (the next GEMM needs all of h_t).
// Scratch owned here: Gc ring (Tc, N, 4H), hbuf (2, N, H) ping-pong hidden state (only with
// lengths: the output holds zeros there), packed weights (pk_store), permuted weights.
// ---------------------------------------------------------------------------------------
std::vector<at::Tensor> lstm_forward(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& c0,
                                     const at::Tensor& w_ih, const at::Tensor& w_hh,
                                     const c10::optional<at::Tensor>& b_ih,
                                     const c10::optional<at::Tensor>& b_hh,
                                     const c10::optional<at::Tensor>& w_hr_opt, bool reverse,
                                     const c10::optional<at::Tensor>& lengths_opt, bool training) {
  TORCH_CHECK(x.dim() == 3 && x.is_contiguous() && x.scalar_type() == at::kFloat, "x must be (T,N,I) contiguous float32");
  const bool proj = w_hr_opt.has_value() && w_hr_opt->defined();
  const int T = (int)x.size(0), N = (int)x.size(1), I = (int)x.size(2);
  const int H = proj ? (int)w_hr_opt->size(1) : (int)w_hh.size(1);
  const int P = (int)w_hh.size(1);  // size of h (== H without projection)
  const int G4 = 4 * H;
  TORCH_CHECK(w_ih.sizes() == at::IntArrayRef({G4, I}) && w_hh.sizes() == at::IntArrayRef({G4, P}), "bad weight shapes");
  TORCH_CHECK(!proj || (w_hr_opt->sizes() == at::IntArrayRef({P, H}) && w_hr_opt->is_contiguous()), "bad weight_hr");
  TORCH_CHECK(h0.sizes() == at::IntArrayRef({N, P}) && c0.sizes() == at::IntArrayRef({N, H}), "bad state shapes");
  TORCH_CHECK(h0.is_contiguous() && c0.is_contiguous() && w_ih.is_contiguous() && w_hh.is_contiguous(), "inputs must be contiguous");
  TORCH_CHECK((int64_t)T * N < INT32_MAX, "sequence too long for 32-bit BLAS");
  const bool has_len = lengths_opt.has_value() && lengths_opt->defined();
  const int64_t* len = has_len ? lengths_opt->data_ptr<int64_t>() : nullptr;
  PhaseTimer timer("lstmkit forward:");

  auto opt = x.options();
  at::Tensor output = pooled_empty({T, N, P}, opt);
  at::Tensor h_n = at::empty({N, P}, opt);
  at::Tensor c_n = c0.clone();  // running cell state (updated in place), returned as c_n
  // saved for the backward (from the pool: see BigPool)
  at::Tensor gates = training ? pooled_empty({T, N, G4}, opt) : at::empty({0}, opt);
  at::Tensor cells = training ? pooled_empty({T, N, H}, opt) : at::empty({0}, opt);
  // projection: r_t = o * tanh(c_t) (N, H) per step, saved (T, N, H) when training
  at::Tensor rbuf = proj ? pooled_empty({training ? T : 1, N, H}, opt) : at::empty({0}, opt);
  if (T == 0 || N == 0 || H == 0) {
    h_n.copy_(h0);
    return {output, h_n, c_n, gates, cells, rbuf};
  }

  Blocks blk(H);
  auto perm = blk.perm(4);  // 4 gate rows per unit
  at::Tensor wih_p = to_block_rows(w_ih, perm);
  at::Tensor whh_p = to_block_rows(w_hh, perm);
  at::Tensor bias_p = at::zeros({G4}, opt);
  if (b_ih.has_value() && b_ih->defined()) bias_p += to_block_rows(*b_ih, perm);
  if (b_hh.has_value() && b_hh->defined()) bias_p += to_block_rows(*b_hh, perm);

  // time chunk of the input projection (fixed by T and N only)
  int Tc = std::max(1, (kChunkRows + N - 1) / N);
  if (const char* e = std::getenv("LSTMKIT_FUSED_TCHUNK")) Tc = std::max(1, std::atoi(e));
  Tc = std::min(Tc, T);
  const int Mc = Tc * N;  // rows of a full projection chunk
  at::Tensor Gc = pooled_empty({(int64_t)Tc * N * G4}, opt);

  // MKL packed copies, per block: W_hh_p rows (for M = N) and W_ih_p rows (for M = Mc).
  std::vector<size_t> off(2 * blk.nb + 1, 0);
  for (int b = 0; b < blk.nb; ++b) {
    off[2 * b + 1] = off[2 * b] + (PackedB::bytes(N, 4 * blk.size(b), P) / 4 + 16) / 16 * 16;
    off[2 * b + 2] = off[2 * b + 1] + (PackedB::bytes(Mc, 4 * blk.size(b), I) / 4 + 16) / 16 * 16;
  }
  // projection: P columns of h cut into nb fixed blocks pu[k]..pu[k+1]; W_hr rows packed
  std::vector<int> pu(blk.nb + 1);
  for (int k = 0; k <= blk.nb; ++k) pu[k] = (int)((int64_t)P * k / blk.nb);
  std::vector<size_t> poff(blk.nb + 1, off[2 * blk.nb]);
  if (proj)
    for (int k = 0; k < blk.nb; ++k)
      poff[k + 1] = poff[k] + (PackedB::bytes(N, pu[k + 1] - pu[k], H) / 4 + 16) / 16 * 16;
  at::Tensor pk_store = pooled_empty({(int64_t)std::max<size_t>(poff[blk.nb], 1)}, opt);
  std::vector<PackedB> pk_hh(blk.nb), pk_ih(blk.nb), pk_hr(blk.nb);
  at::Tensor hbuf = has_len ? at::empty({2, N, P}, opt) : at::Tensor();

  ErrorSlot err;
  const int64_t NH = (int64_t)N * H, NG = (int64_t)N * G4, NI = (int64_t)N * I, NP = (int64_t)N * P;
  const float* X = x.data_ptr<float>();
  const float* Whr = proj ? w_hr_opt->data_ptr<float>() : nullptr;
  float* RB = proj ? rbuf.data_ptr<float>() : nullptr;
  const int64_t rstride = training ? NH : 0;  // inference: one (N, H) r buffer reused
  const float* Wih = wih_p.data_ptr<float>();
  const float* Whh = whh_p.data_ptr<float>();
  const float* Bp = bias_p.data_ptr<float>();
  const float* H0 = h0.data_ptr<float>();
  float* GC = Gc.data_ptr<float>();
  float* GS = training ? gates.data_ptr<float>() : nullptr;
  float* OUT = output.data_ptr<float>();
  float* CS = c_n.data_ptr<float>();
  float* CB = training ? cells.data_ptr<float>() : nullptr;
  float* HB = has_len ? hbuf.data_ptr<float>() : nullptr;
  float* PK = pk_store.data_ptr<float>();
  timer.lap("setup");
  LoopProf prof0;

  run_threads(blk.nb, [&](int tid, int nth) {
    const int b0 = blk.nb * tid / nth, b1 = blk.nb * (tid + 1) / nth;
    LoopProf prof(timer, tid == 0);
    for (int b = b0; b < b1; ++b) {
      const int rows = 4 * blk.size(b);
      const int64_t wofs = (int64_t)4 * blk.u[b];
      pk_hh[b].pack(N, rows, P, Whh + wofs * P, P, true, PackedB::bytes(N, rows, P) ? PK + off[2 * b] : nullptr);
      pk_ih[b].pack(Mc, rows, I, Wih + wofs * I, I, true, PackedB::bytes(Mc, rows, I) ? PK + off[2 * b + 1] : nullptr);
      if (proj) {
        const int pc = pu[b + 1] - pu[b];
        pk_hr[b].pack(N, pc, H, Whr + (int64_t)pu[b] * H, H, true, PackedB::bytes(N, pc, H) ? PK + poff[b] : nullptr);
      }
    }
    prof.mark(0);
    for (int s = 0; s < T; ++s) {
      const int t = reverse ? T - 1 - s : s;
      const int tp = reverse ? t + 1 : t - 1;
      // chunk of steps [cs0, cs0 + tc) covers times [tlo, tlo + tc); ring slot = t - tlo
      const int cs0 = s / Tc * Tc, tc = std::min(Tc, T - cs0);
      const int tlo = reverse ? T - cs0 - tc : cs0;
      float* Gt = GC + (int64_t)(t - tlo) * NG;
      if (s == cs0) {  // project x for the whole chunk, own block columns only
        for (int b = b0; b < b1; ++b) {
          const int64_t gofs = 4 * (int64_t)blk.u[b];
          if (tc == Tc) pk_ih[b].run(X + (int64_t)tlo * NI, I, 0.f, GC + gofs, G4, &err);
          else gemm(false, true, tc * N, 4 * blk.size(b), I, X + (int64_t)tlo * NI, I, Wih + gofs * I, I, 0.f, GC + gofs, G4, &err);
        }
        prof.mark(1);
      }
      const float* hp = s == 0 ? H0 : (has_len ? HB + (int64_t)((s - 1) & 1) * NP : OUT + tp * NP);
      float* hnext = has_len ? HB + (int64_t)(s & 1) * NP : nullptr;
      float* Ot = OUT + t * NP;
      float* Ct = CB ? CB + t * NH : nullptr;
      float* Rt = proj ? RB + t * rstride : nullptr;  // r_t rows when projecting
      for (int b = b0; b < b1; ++b) {
        const int u0 = blk.u[b], sz = blk.size(b);
        const int64_t gofs = 4 * (int64_t)u0;
        pk_hh[b].run(hp, P, 1.f, Gt + gofs, G4, &err);
        prof.mark(2);
        const float* bias = Bp + gofs;
        for (int n = 0; n < N; ++n) {
          const int64_t so = (int64_t)n * H + u0;
          float* gsave = GS ? GS + t * NG + (int64_t)n * G4 + gofs : nullptr;
          if (has_len && t >= len[n]) {  // inactive: state frozen, output 0
            if (proj) {
              std::memset(Rt + so, 0, sizeof(float) * sz);  // projects to h = 0; h copied below
            } else {
              std::memset(Ot + so, 0, sizeof(float) * sz);
              std::memcpy(hnext + so, hp + so, sizeof(float) * sz);
            }
            if (Ct) std::memcpy(Ct + so, CS + so, sizeof(float) * sz);
            if (gsave) std::memset(gsave, 0, sizeof(float) * 4 * sz);
            continue;
          }
          if (proj)
            fwd_point(Gt + (int64_t)n * G4 + gofs, bias, sz, CS + so, Rt + so, nullptr, Ct ? Ct + so : nullptr, gsave);
          else
            fwd_point(Gt + (int64_t)n * G4 + gofs, bias, sz, CS + so, Ot + so, hnext ? hnext + so : nullptr,
                      Ct ? Ct + so : nullptr, gsave);
        }
        prof.mark(3);
      }
      if (proj) {  // h_t[:, pblk] = r_t W_hr[pblk]^T  (needs all of r_t)
        barrier(nth);
        for (int b = b0; b < b1; ++b) {
          const int p0 = pu[b], pc = pu[b + 1] - pu[b];
          if (pc == 0) continue;
          pk_hr[b].run(Rt, H, 0.f, Ot + p0, P, &err);
          if (hnext)
            for (int n = 0; n < N; ++n) {
              const int64_t po = (int64_t)n * P + p0;
              std::memcpy(hnext + po, (t >= len[n] ? hp : Ot) + po, sizeof(float) * pc);
            }
        }
      }
      prof.mark(4);
      barrier(nth);
      prof.mark(5);
    }
    if (tid == 0) prof0 = prof;
  });
  if (err.set) TORCH_CHECK(false, "lstmkit fused forward: ", err.msg);
  timer.lap("loop");
  prof0.report(timer, {"t0:pack", "t0:proj", "t0:hh_gemm", "t0:pointwise", "t0:hr", "t0:barrier"});

  if (has_len) h_n.copy_(hbuf[(T - 1) & 1]);
  else h_n.copy_(output[reverse ? 0 : T - 1]);
  if (!training) rbuf = at::empty({0}, opt);
  return {output, h_n, c_n, gates, cells, rbuf};
}

// ---------------------------------------------------------------------------------------
// Backward pointwise pass for one row of one block of `sz` units (block layout).
//   g (4*sz) saved activated gates; c / cp (sz) c_t and c_{t-1}; dh1 (+ dh2, may be null)
//   (sz) dL/d(o*tanh c_t); dc (sz) running dL/dc (in: from t+1, out: to t-1);
//   dg (4*sz) out: dL/d(pre-activations); db (4*sz, may be null) bias gradient accumulator.
// ---------------------------------------------------------------------------------------
static inline void bwd_point(const float* g, const float* c_, const float* cp_, const float* dh1,
                             const float* dh2, float* dc_, float* dg, float* db, int sz) {
  for (int j = 0; j < sz; j += VW) {
    const int m = std::min(VW, sz - j);
    vf ig = ldn(g + j, m), fg = ldn(g + sz + j, m), gg = ldn(g + 2 * sz + j, m), og = ldn(g + 3 * sz + j, m);
    vf c = ldn(c_ + j, m), cp = ldn(cp_ + j, m);
    vf dht = dh2 ? ldn(dh1 + j, m) + ldn(dh2 + j, m) : ldn(dh1 + j, m);
    vf tc = vtanh(c);
    vf dct = ldn(dc_ + j, m) + dht * og * (1.0f - tc * tc);
    vf di = dct * gg * ig * (1.0f - ig);
    vf df = dct * cp * fg * (1.0f - fg);
    vf dgg = dct * ig * (1.0f - gg * gg);
    vf dog = dht * tc * og * (1.0f - og);
    stn(dg + j, di, m);
    stn(dg + sz + j, df, m);
    stn(dg + 2 * sz + j, dgg, m);
    stn(dg + 3 * sz + j, dog, m);
    stn(dc_ + j, dct * fg, m);
    if (db) {  // bias gradient: fixed summation order (steps descending, rows ascending)
      stn(db + j, ldn(db + j, m) + di, m);
      stn(db + sz + j, ldn(db + sz + j, m) + df, m);
      stn(db + 2 * sz + j, ldn(db + 2 * sz + j, m) + dgg, m);
      stn(db + 3 * sz + j, ldn(db + 3 * sz + j, m) + dog, m);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Backward.
//   Saved: x, h0 (N,P), c0 (N,H), w_ih, w_hh (4H,P), w_hr (P,H) or undefined, output (T,N,P),
//   gates (T,N,4H) activated block layout, cells (T,N,H), rbuf (T,N,H) r_t = o*tanh(c_t)
//   (projection only).  Incoming: d_out (T,N,P), d_hn (N,P), d_cn (N,H).
//   need: [x, h0, c0, w_ih, w_hh, bias, w_hr] gradient flags.
// Returns [dx (T,N,I), dh0, dc0, dw_ih (4H,I), dw_hh (4H,P), db (4H), dw_hr (P,H)]
// (undefined where not needed).  P == H without projection.
// Per step (reverse order), threads own fixed groups of hidden blocks (and of P columns):
//   no projection: pointwise(dh + d_out) -> dG_t ; barrier ; dh[:, grp] = dG_t W_hh_p[:, grp]
//   projection:    dht = dh + d_out (own P cols, saved) ; barrier ; dr[:, grp] = dht W_hr[:, grp]
//                  ; pointwise(dr) -> dG_t ; barrier ; dh[:, pgrp] = dG_t W_hh_p[:, pgrp]
// then big GEMMs: dX = dG W_ih_p, dW_ih^T = X^T dG, dW_hh^T = Hprev^T dG, dW_hr = dht^T r.
// Scratch owned here: dG (T,N,4H) block layout, dh (N,P) / dc (N,H) running, dht (T,N,P) and
// dr (N,H) (projection), the transposed weight gradients and the permuted weight copies.
// ---------------------------------------------------------------------------------------
std::vector<at::Tensor> lstm_backward(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& c0,
                                      const at::Tensor& w_ih, const at::Tensor& w_hh,
                                      const c10::optional<at::Tensor>& w_hr_opt,
                                      const at::Tensor& output, const at::Tensor& gates,
                                      const at::Tensor& cells, const at::Tensor& rbuf,
                                      const at::Tensor& d_out_in, const at::Tensor& d_hn_in,
                                      const at::Tensor& d_cn_in, bool reverse,
                                      const c10::optional<at::Tensor>& lengths_opt,
                                      std::vector<bool> need) {
  const bool proj = w_hr_opt.has_value() && w_hr_opt->defined();
  const int T = (int)x.size(0), N = (int)x.size(1), I = (int)x.size(2);
  const int H = (int)c0.size(1), P = (int)w_hh.size(1);
  const int G4 = 4 * H;
  const at::Tensor d_out = pooled_contiguous(d_out_in), d_hn = pooled_contiguous(d_hn_in),
                   d_cn = pooled_contiguous(d_cn_in);
  TORCH_CHECK(gates.numel() == (int64_t)T * N * G4 && cells.numel() == (int64_t)T * N * H, "missing saved buffers");
  TORCH_CHECK(!proj || rbuf.numel() == (int64_t)T * N * H, "missing saved projection input");
  TORCH_CHECK(need.size() == 7, "need must have 7 flags");
  const bool has_len = lengths_opt.has_value() && lengths_opt->defined();
  const int64_t* len = has_len ? lengths_opt->data_ptr<int64_t>() : nullptr;
  auto opt = x.options();

  at::Tensor dh = d_hn.clone();  // running dL/dh_t arriving from step t+1 (N,P)
  at::Tensor dc = d_cn.clone();  // running dL/dc_t (N,H)
  at::Tensor dG = pooled_empty({T, N, G4}, opt);
  at::Tensor dx, dw_ih, dw_hh, db, dw_hr;
  if (T == 0 || N == 0 || H == 0) {
    if (need[0]) dx = at::zeros_like(x);
    if (need[3]) dw_ih = at::zeros_like(w_ih);
    if (need[4]) dw_hh = at::zeros_like(w_hh);
    if (need[5]) db = at::zeros({G4}, opt);
    if (need[6] && proj) dw_hr = at::zeros_like(*w_hr_opt);
    return {dx, dh, dc, dw_ih, dw_hh, db, dw_hr};
  }

  Blocks blk(H);
  auto perm = blk.perm(4);  // 4 gate rows per unit
  at::Tensor wih_p = to_block_rows(w_ih, perm);
  at::Tensor whh_p = to_block_rows(w_hh, perm);
  // Groups of consecutive forward blocks (fixed by H only): the unit of work of one thread
  // in the loop; the dh GEMM of a group has |units| output columns (wider = faster GEMM).
  const int ng = std::min(blk.nb, std::max(blk.nb >= 2 ? 2 : 1, (H + 128) / 256));
  std::vector<int> gb(ng + 1);  // group g = forward blocks [gb[g], gb[g+1])
  for (int g = 0; g <= ng; ++g) gb[g] = blk.nb * g / ng;
  std::vector<int> pu(ng + 1);  // projection: group g also owns h columns [pu[g], pu[g+1])
  for (int g = 0; g <= ng; ++g) pu[g] = (int)((int64_t)P * g / ng);
  at::Tensor db_p = need[5] ? at::zeros({G4}, opt) : at::Tensor();  // accumulated in the loop
  at::Tensor dht = proj ? pooled_empty({T, N, P}, opt) : at::Tensor();  // dL/dh_t, all steps
  at::Tensor dr = proj ? at::empty({N, H}, opt) : at::Tensor();

  PhaseTimer timer("lstmkit backward:");
  ErrorSlot err;
  const float* Wp = whh_p.data_ptr<float>();
  const float* Whr = proj ? w_hr_opt->data_ptr<float>() : nullptr;
  const float* GA = gates.data_ptr<float>();
  const float* CB = cells.data_ptr<float>();
  const float* C0 = c0.data_ptr<float>();
  const float* DO = d_out.data_ptr<float>();
  float* DG = dG.data_ptr<float>();
  float* DH = dh.data_ptr<float>();
  float* DC = dc.data_ptr<float>();
  float* DB = need[5] ? db_p.data_ptr<float>() : nullptr;
  float* DHT = proj ? dht.data_ptr<float>() : nullptr;
  float* DR = proj ? dr.data_ptr<float>() : nullptr;
  const int64_t NH = (int64_t)N * H, NG = (int64_t)N * G4, NP = (int64_t)N * P;

  // The per-step GEMMs' right-hand operands (W_hh_p columns of a group or of the own P columns,
  // W_hr columns of a group), prepared once per call where brgemm is on (plain GEMMs else; a
  // panel over LSTMKIT_FUSED_BRGEMM_MAXPANEL is prepared in MKL's packed format instead).
  const bool prep = use_brgemm(G4) && (!proj || use_brgemm(P));
  std::vector<PackedB> pk_dh(ng), pk_dr(ng);
  std::vector<size_t> boff(2 * ng + 1, 0);
  for (int g = 0; g < ng && prep; ++g) {
    const int u0 = blk.u[gb[g]], cols = blk.u[gb[g + 1]] - u0;
    boff[2 * g + 1] = boff[2 * g] + (PackedB::bytes(N, proj ? pu[g + 1] - pu[g] : cols, G4) / 4 + 16) / 16 * 16;
    boff[2 * g + 2] = boff[2 * g + 1] + (proj ? (PackedB::bytes(N, cols, P) / 4 + 16) / 16 * 16 : 0);
  }
  at::Tensor bstore = prep ? pooled_empty({(int64_t)std::max<size_t>(boff[2 * ng], 1)}, opt) : at::Tensor();
  float* BS = prep ? bstore.data_ptr<float>() : nullptr;

  run_threads(ng, [&](int tid, int nth) {
    const int g0 = ng * tid / nth, g1 = ng * (tid + 1) / nth;
    const int b0 = gb[g0], b1 = gb[g1];
    const int p0 = pu[g0], pc = pu[g1] - pu[g0];
    for (int gi = g0; gi < g1 && prep; ++gi) {  // (B (K,N) row-major: views, nothing copied)
      const int u0 = blk.u[gb[gi]], cols = blk.u[gb[gi + 1]] - u0;
      if (proj) {
        const int q0 = pu[gi], qc = pu[gi + 1] - pu[gi];
        pk_dh[gi].pack(N, qc, G4, Wp + q0, P, false, BS + boff[2 * gi]);
        pk_dr[gi].pack(N, cols, P, Whr + u0, H, false, BS + boff[2 * gi + 1]);
      } else {
        pk_dh[gi].pack(N, cols, G4, Wp + u0, H, false, BS + boff[2 * gi]);
      }
    }
    for (int s = T - 1; s >= 0; --s) {
      const int t = reverse ? T - 1 - s : s;
      const int tp = reverse ? t + 1 : t - 1;
      const float* Cprev = s == 0 ? C0 : CB + tp * NH;
      const float* Gt = GA + t * NG;
      const float* Ct = CB + t * NH;
      const float* DOt = DO + t * NP;
      float* DGt = DG + t * NG;
      if (proj) {
        // dht[t][:, own cols] = dh + d_out (active rows; 0 for inactive, whose dh passes through)
        float* D = DHT + t * NP;
        for (int n = 0; n < N && pc > 0; ++n) {
          const int64_t o = (int64_t)n * P + p0;
          if (has_len && t >= len[n]) {
            std::memset(D + o, 0, sizeof(float) * pc);
            continue;
          }
          for (int j = 0; j < pc; ++j) D[o + j] = DH[o + j] + DOt[o + j];
          if (has_len) std::memset(DH + o, 0, sizeof(float) * pc);
        }
        barrier(nth);
        for (int gi = g0; gi < g1; ++gi) {  // dr[:, group] = dht[t] W_hr[:, group]
          const int u0 = blk.u[gb[gi]], u1 = blk.u[gb[gi + 1]];
          if (prep) pk_dr[gi].run(D, P, 0.f, DR + u0, H, &err);
          else gemm(false, false, N, u1 - u0, P, D, P, Whr + u0, H, 0.f, DR + u0, H, &err);
        }
      }
      for (int b = b0; b < b1; ++b) {
        const int u0 = blk.u[b], sz = blk.size(b);
        const int64_t gofs = 4 * (int64_t)u0;
        for (int n = 0; n < N; ++n) {
          float* dg = DGt + (int64_t)n * G4 + gofs;
          const int64_t so = (int64_t)n * H + u0;
          if (has_len && t >= len[n]) {  // inactive: dG = 0, dh/dc pass through
            std::memset(dg, 0, sizeof(float) * 4 * sz);
            continue;
          }
          if (proj) {
            bwd_point(Gt + (int64_t)n * G4 + gofs, Ct + so, Cprev + so, DR + so, nullptr, DC + so, dg,
                      DB ? DB + gofs : nullptr, sz);
          } else {
            bwd_point(Gt + (int64_t)n * G4 + gofs, Ct + so, Cprev + so, DH + so, DOt + so, DC + so, dg,
                      DB ? DB + gofs : nullptr, sz);
            if (has_len) std::memset(DH + so, 0, sizeof(float) * sz);
          }
        }
      }
      barrier(nth);
      // dh_{t-1}[:, cols] (+)= dG_t W_hh_p[:, cols]  (inactive rows: dG = 0, dh passes through)
      const float beta = has_len ? 1.f : 0.f;
      if (proj && prep) {
        for (int gi = g0; gi < g1; ++gi)
          if (pu[gi + 1] > pu[gi]) pk_dh[gi].run(DGt, G4, beta, DH + pu[gi], P, &err);
      } else if (proj) {
        if (pc > 0) gemm(false, false, N, pc, G4, DGt, G4, Wp + p0, P, beta, DH + p0, P, &err);
      } else {
        for (int gi = g0; gi < g1; ++gi) {
          const int u0 = blk.u[gb[gi]], u1 = blk.u[gb[gi + 1]];
          if (prep) pk_dh[gi].run(DGt, G4, beta, DH + u0, H, &err);
          else gemm(false, false, N, u1 - u0, G4, DGt, G4, Wp + u0, H, beta, DH + u0, H, &err);
        }
      }
    }
  });
  if (err.set) TORCH_CHECK(false, "lstmkit fused backward: ", err.msg);
  timer.lap("recurrence");

  const int64_t R = (int64_t)T * N;
  TORCH_CHECK(R < INT32_MAX, "sequence too long for 32-bit BLAS");
  // dX = dG W_ih_p
  if (need[0]) {
    dx = pooled_empty({T, N, I}, opt);
    big_gemm_rows(R, I, G4, DG, G4, wih_p.data_ptr<float>(), I, false, dx.data_ptr<float>(), I, &err);
  }
  timer.lap("dx_gemm");
  // Weight gradients, chunked over the 4H columns of dG (block layout):
  //   dWih^T[:, chunk] (I, cols) = X^T dG[:, chunk] ;  dWhh^T[:, chunk] (P, cols) = h0^T dG_start + Hprev^T dG_rest
  // each computed into a per-thread scratch and written transposed straight to the torch-order
  // rows of dW_ih / dW_hh (perm), while in cache; dW_hr (P, H) = dht^T r, chunked over its P rows.
  if (need[3]) dw_ih = pooled_empty({G4, I}, opt);
  if (need[4]) dw_hh = pooled_empty({G4, P}, opt);
  const bool need_hr = proj && need[6];
  if (need_hr) dw_hr = pooled_empty({P, H}, opt);
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
  // dG rows of the steps after the first and the matching previous outputs, contiguous
  const float* DGrest = DG + (reverse ? 0 : NG);
  const float* Hrest = output.data_ptr<float>() + (reverse ? NP : 0);
  const int64_t Rrest = (int64_t)(T - 1) * N;
  const float* X = x.data_ptr<float>();
  const float* H0 = h0.data_ptr<float>();
  const int nwc = (G4 + kColChunk - 1) / kColChunk;
  const int nhr = need_hr ? (P + kColChunk - 1) / kColChunk : 0;
  const int nih = need[3] ? nwc : 0, nhh = need[4] ? nwc : 0;
  const int njobs = nih + nhh + nhr;
  // per thread: the chunk's result (scr_sz) and gemm_tn's transposed operand (tn_sz)
  const int64_t scr_sz = (int64_t)std::max(I, P) * kColChunk, tn_sz = (int64_t)gemm_tn_scratch(std::max(I, P));
  at::Tensor wscr = njobs ? pooled_empty({chunk_threads(njobs) * (scr_sz + tn_sz)}, opt) : at::Tensor();
  parallel_chunks_tid(njobs, [&](int64_t job, int tid) {
    int c = (int)job;
    float* C = wscr.data_ptr<float>() + tid * (scr_sz + tn_sz);
    float* TS = C + scr_sz;
    if (c < nih) {
      const int c0 = c * kColChunk, cols = std::min(kColChunk, G4 - c0);
      gemm_tn(I, cols, (int)R, X, I, DG + c0, G4, 0.f, C, cols, TS, &err);
      transpose_to_rows(C, cols, I, cols, perm.data() + c0, dw_ih.data_ptr<float>(), I);
    } else if (c < nih + nhh) {
      c -= nih;
      const int c0 = c * kColChunk, cols = std::min(kColChunk, G4 - c0);
      gemm_tn(P, cols, N, H0, P, DS + c0, G4, 0.f, C, cols, TS, &err);
      if (Rrest > 0) gemm_tn(P, cols, (int)Rrest, Hrest, P, DGrest + c0, G4, 1.f, C, cols, TS, &err);
      transpose_to_rows(C, cols, P, cols, perm.data() + c0, dw_hh.data_ptr<float>(), P);
    } else {
      c -= nih + nhh;
      const int r0 = c * kColChunk, rows = std::min(kColChunk, P - r0);
      gemm_tn(rows, H, (int)R, DHT + r0, P, rbuf.data_ptr<float>(), H, 0.f, dw_hr.data_ptr<float>() + (int64_t)r0 * H,
              H, TS, &err);
    }
  });
  if (err.set) TORCH_CHECK(false, "lstmkit fused backward: ", err.msg);
  timer.lap("dw_gemms");
  if (need[5]) db = from_block_rows(db_p, perm);
  timer.lap("reorder");
  return {dx, dh, dc, dw_ih, dw_hh, db, dw_hr};
}

// info(H) and set_brgemm(on): fused_common.h (brgemm_kernel_info, set_brgemm).

// Tuning aid: milliseconds for `reps` calls of C(M,N) (+)= A(M,K) op(B) on one thread, with
// B packed once (packed=true, MKL path) or a plain GEMM per call.
double bench_gemm(int64_t M, int64_t N, int64_t K, bool transB, bool packed, int64_t reps, int64_t nblocks) {
  at::Tensor A = at::randn({M, K}), C = at::zeros({M, N});
  std::vector<at::Tensor> Bs, stores;
  std::vector<PackedB> pbs(nblocks);
  ThreadScope scope;
  size_t bytes = packed ? PackedB::bytes((int)M, (int)N, (int)K) : 0;
  for (int64_t i = 0; i < nblocks; ++i) {
    Bs.push_back(transB ? at::randn({N, K}) : at::randn({K, N}));
    stores.push_back(at::empty({(int64_t)bytes / 4 + 16}));
    pbs[i].pack((int)M, (int)N, (int)K, Bs[i].data_ptr<float>(), transB ? (int)K : (int)N, transB,
                bytes ? stores[i].data_ptr<float>() : nullptr);
  }
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t r = 0; r < reps; ++r)
    for (int64_t i = 0; i < nblocks; ++i) pbs[i].run(A.data_ptr<float>(), (int)K, 1.f, C.data_ptr<float>(), (int)N, nullptr);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
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

#include "lstm_variants.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  lstmkit::common::blas();  // resolve the BLAS symbols and probe brgemm once, on the importing thread
  m.def("lstm_forward", &lstmkit::lstm_forward, "fused LSTM layer forward");
  m.def("lstm_backward", &lstmkit::lstm_backward, "fused LSTM layer backward");
  m.def("lstm_var_forward", &lstmkit::var::forward, "fused LSTM-variant layer forward");
  m.def("lstm_var_backward", &lstmkit::var::backward, "fused LSTM-variant layer backward");
  m.def("bernoulli_mask_fill", &lstmkit::var::bernoulli_mask_fill, "zoneout keep-masks from a counter-based stream");
  m.def("info", &lstmkit::common::brgemm_kernel_info, "kernel configuration", pybind11::arg("H") = 0);
  m.def("pool_stats", &lstmkit::common::pool_stats, "(bytes the buffer pool holds free, its cap)");
  m.def("set_blas_mode", &lstmkit::common::set_blas_mode, "select GEMM path (tests)");
  m.def("set_brgemm", &lstmkit::common::set_brgemm, "use oneDNN brgemm for the repeated-operand GEMMs (tests)");
  m.def("set_brgemm_panel", &lstmkit::common::set_brgemm_panel, "brgemm's B-panel budget in bytes, 0: from L2 (tests)");
  m.def("brgemm_slices", [](int64_t K, int64_t N, int64_t ldbt) {
        const auto sl = lstmkit::common::brgemm_slices((int)K, (int)N, (int)ldbt);
        return std::make_tuple((int64_t)sl.cols, (int64_t)sl.rows);
      }, "(columns, K rows) of B per brgemm call for a (K, N) panel with row stride ldbt (tests)");
  m.def("set_brgemm_columns", &lstmkit::common::set_brgemm_columns,
        "columns per brgemm slice of a panel over the budget, 0: K-row slices only, -1: by the budget (tests)");
  m.def("bench_gemm", &lstmkit::bench_gemm, "GEMM timing (tuning)");
  m.def("math_test", &lstmkit::math_test, "vectorized exp/sigmoid/tanh (tests)");
}

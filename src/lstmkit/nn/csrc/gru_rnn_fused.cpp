// lstmkit fused CPU kernels: one GRU or plain-RNN layer-direction, forward and backward (BPTT).
//
// Cells (torch.nn conventions; `cell`: 0 GRU, 1 RNN tanh, 2 RNN relu):
//   GRU (gate rows r, z, n of W_ih (3H, I) and W_hh (3H, H)):
//     gx = x_t W_ih^T + b_ih          gh = h_{t-1} W_hh^T + b_hh                 (N, 3H)
//     r = sigmoid(gx_r + gh_r)   z = sigmoid(gx_z + gh_z)   n = tanh(gx_n + r * gh_n)
//     h_t = (1 - z) * n + z * h_{t-1}      (computed as n + z * (h_{t-1} - n))
//   RNN: h_t = phi(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), phi = tanh or relu.
//   Steps past a sequence's end (lengths): output 0, state frozen (see lstmkit/nn/scan.py).
//
// Structure (that of lstm_fused.cpp; one call = the whole sequence):
//   * Hidden units are cut into blocks fixed by H only; the G*H gate rows (G = 3 GRU, 1 RNN)
//     of the weights and biases are permuted so that the gates of a block are adjacent
//     ("block layout": [blk0: r z n | blk1: r z n | ...]).
//   * Forward: ONE OpenMP parallel region; each thread owns fixed blocks.  The input
//     projection X W_ih^T is done Tc steps at a time (Tc*N >= 256 rows) into a cache-resident
//     ring, each thread for its own block columns; per step and block one MKL packed GEMM
//     with h_{t-1} (W_hh packed once per call) and one fused pointwise pass; one barrier per
//     step.  The GRU's recurrent product goes to a separate (N, 3H) scratch (gh_n is needed
//     apart, inside r * gh_n); the RNN's is accumulated onto the ring.
//   * Saved for the backward (training only): GRU: r, z, n and gh_n (= W_hn h + b_hn), block
//     layout [r z n gh_n] per block, (T, N, 4H); RNN: nothing but the output (phi' is a
//     function of h_t).  h_{t-1} is read back from the output (or h0).
//   * Backward: per step a pointwise pass writes the pre-activation gradients of the step
//     (GRU: dGx for the input side and dGh for the recurrent side, which differ in the n
//     block: dGh_n = dGx_n * r) and the bias gradients of the owned blocks, a barrier, then
//     dh[:, own units] (+)= dGh_t W_hh_p[:, own units] (W_hh_p's columns packed once per call).
//     After the loop dX, dW_ih, dW_hh are big GEMMs over all steps (the weight gradients one
//     GEMM per (block, gate) row segment, written straight to torch's row order).
//   * Tiny problems (a step's GEMM under ~4 us, or a big GEMM under 4 MFLOP) stay on one
//     thread: a barrier or a thread wake-up would cost more than the split saves.
//   * The work is cut into pieces fixed by the sizes (never by the thread count) and MKL runs
//     single-threaded inside our threads, so results are bitwise identical at 1 and N threads.
//     Denormals are flushed inside the kernels.
//
// Memory ownership: every buffer is an at::Tensor allocated by the entry points
// (gru_rnn_forward / gru_rnn_backward) and lives until they return (scratch) or is returned
// to Python.  Worker threads never allocate; they write disjoint column blocks.

#include "gru_rnn_common.h"

namespace lstmkit_gr {

enum Cell { kGRU = 0, kTanh = 1, kRelu = 2 };

// Hidden-unit blocks (Blocks, sizes fixed by H only) and from_block_rows: fused_common.h.
// The gate rows of w in block layout (Blocks::perm(G)).
static at::Tensor to_block_rows(const at::Tensor& w, const std::vector<int64_t>& perm) {
  auto idx = at::from_blob(const_cast<int64_t*>(perm.data()), {(int64_t)perm.size()}, at::kLong);
  return w.index_select(0, idx).contiguous();
}

// Threads for the time loop: up to `units` (blocks or groups), but one when a step's GEMM is
// so small (< ~4 us) that a barrier per step would cost more than the split saves.  (The
// partition is fixed by the sizes, so the thread count never changes the results.)
static inline int step_threads(int N, int GH, int H, int units) {
  return 2.0 * N * GH * H < 4e5 ? 1 : units;
}

static inline bool present(const c10::optional<at::Tensor>& t) { return t.has_value() && t->defined(); }

// ---------------------------------------------------------------------------------------
// Pointwise passes for one row of one block of sz units (block layout).
// ---------------------------------------------------------------------------------------
// GRU forward.  gx (3sz) input projection without bias, gh (3sz) recurrent product without
// bias, bx (3sz) b_ih (+ b_hh for r, z), bhn (sz) b_hn, hp (sz) h_{t-1}.
static inline void gru_fwd_point(const float* gx, const float* gh, const float* bx, const float* bhn,
                                 const float* hp, int sz, float* hout, float* hnext, float* gsave) {
  for (int j = 0; j < sz; j += VW) {
    const int m = std::min(VW, sz - j);
    vf r = vsigmoid(ldn(gx + j, m) + ldn(gh + j, m) + ldn(bx + j, m));
    vf z = vsigmoid(ldn(gx + sz + j, m) + ldn(gh + sz + j, m) + ldn(bx + sz + j, m));
    vf ghn = ldn(gh + 2 * sz + j, m) + ldn(bhn + j, m);
    vf n = vtanh(ldn(gx + 2 * sz + j, m) + ldn(bx + 2 * sz + j, m) + r * ghn);
    vf h = n + z * (ldn(hp + j, m) - n);
    stn(hout + j, h, m);
    if (hnext) stn(hnext + j, h, m);
    if (gsave) {
      stn(gsave + j, r, m);
      stn(gsave + sz + j, z, m);
      stn(gsave + 2 * sz + j, n, m);
      stn(gsave + 3 * sz + j, ghn, m);
    }
  }
}

// RNN forward.  a (sz) x W_ih^T + h W_hh^T (no bias), b (sz) b_ih + b_hh.
static inline void rnn_fwd_point(const float* a, const float* b, int sz, bool relu, float* hout, float* hnext) {
  for (int j = 0; j < sz; j += VW) {
    const int m = std::min(VW, sz - j);
    vf p = ldn(a + j, m) + ldn(b + j, m);
    vf h = relu ? (p > 0.f ? p : splat(0.f)) : vtanh(p);
    stn(hout + j, h, m);
    if (hnext) stn(hnext + j, h, m);
  }
}

// GRU backward.  g (4sz) saved [r z n gh_n]; hp (sz) h_{t-1}; dh (sz) running dL/dh_t from
// t+1 (out: the direct part dL/dh_{t-1} = dht * z, the GEMM adds the rest); dout (sz) d_out[t];
// dgx / dgh (3sz) out; dbx / dbh (3sz, may be null) bias-gradient accumulators.
static inline void gru_bwd_point(const float* g, const float* hp, float* dh, const float* dout, float* dgx,
                                 float* dgh, float* dbx, float* dbh, int sz) {
  for (int j = 0; j < sz; j += VW) {
    const int m = std::min(VW, sz - j);
    vf r = ldn(g + j, m), z = ldn(g + sz + j, m), n = ldn(g + 2 * sz + j, m), ghn = ldn(g + 3 * sz + j, m);
    vf dht = ldn(dh + j, m) + ldn(dout + j, m);
    vf dz = dht * (ldn(hp + j, m) - n) * z * (1.0f - z);
    vf dn = dht * (1.0f - z) * (1.0f - n * n);
    vf dr = dn * ghn * r * (1.0f - r);
    vf dnh = dn * r;
    stn(dgx + j, dr, m);
    stn(dgx + sz + j, dz, m);
    stn(dgx + 2 * sz + j, dn, m);
    stn(dgh + j, dr, m);
    stn(dgh + sz + j, dz, m);
    stn(dgh + 2 * sz + j, dnh, m);
    stn(dh + j, dht * z, m);
    if (dbx) {  // fixed summation order: steps descending, rows ascending
      stn(dbx + j, ldn(dbx + j, m) + dr, m);
      stn(dbx + sz + j, ldn(dbx + sz + j, m) + dz, m);
      stn(dbx + 2 * sz + j, ldn(dbx + 2 * sz + j, m) + dn, m);
      stn(dbh + j, ldn(dbh + j, m) + dr, m);
      stn(dbh + sz + j, ldn(dbh + sz + j, m) + dz, m);
      stn(dbh + 2 * sz + j, ldn(dbh + 2 * sz + j, m) + dnh, m);
    }
  }
}

// RNN backward.  h (sz) h_t; dh (sz) running dL/dh_t; dout (sz); dg (sz) out; db accumulator.
static inline void rnn_bwd_point(const float* h_, const float* dh, const float* dout, bool relu, float* dg,
                                 float* db, int sz) {
  for (int j = 0; j < sz; j += VW) {
    const int m = std::min(VW, sz - j);
    vf h = ldn(h_ + j, m);
    vf dht = ldn(dh + j, m) + ldn(dout + j, m);
    vf d = relu ? (h > 0.f ? dht : splat(0.f)) : dht * (1.0f - h * h);
    stn(dg + j, d, m);
    if (db) stn(db + j, ldn(db + j, m) + d, m);
  }
}

// ---------------------------------------------------------------------------------------
// Forward.
//   x (T,N,I), h0 (N,H), w_ih (GH,I), w_hh (GH,H), b_ih/b_hh (GH) or None, lengths (N) int64
//   or None.  Returns [output (T,N,H), h_n (N,H), gates]: gates is the GRU's saved
//   (T,N,4H) [r z n gh_n] block layout (0 past a sequence's end) when `save`, else empty.
// Scratch owned here: the projection ring (Tc,N,GH), the GRU's gh (N,GH), hbuf (2,N,H)
// ping-pong state (lengths only: the output holds zeros there), packed and permuted weights.
// ---------------------------------------------------------------------------------------
std::vector<at::Tensor> forward(int64_t cell, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_ih,
                                const at::Tensor& w_hh, const c10::optional<at::Tensor>& b_ih,
                                const c10::optional<at::Tensor>& b_hh, bool reverse,
                                const c10::optional<at::Tensor>& lengths_opt, bool save) {
  TORCH_CHECK(cell >= 0 && cell <= 2, "cell must be 0 (GRU), 1 (RNN tanh) or 2 (RNN relu)");
  TORCH_CHECK(x.dim() == 3 && x.is_contiguous() && x.scalar_type() == at::kFloat, "x must be (T,N,I) contiguous float32");
  const bool gru = cell == kGRU, relu = cell == kRelu;
  const int G = gru ? 3 : 1;
  const int T = (int)x.size(0), N = (int)x.size(1), I = (int)x.size(2), H = (int)w_hh.size(1);
  const int GH = G * H;
  TORCH_CHECK(w_ih.sizes() == at::IntArrayRef({GH, I}) && w_hh.sizes() == at::IntArrayRef({GH, H}), "bad weight shapes");
  TORCH_CHECK(h0.sizes() == at::IntArrayRef({N, H}), "bad h0 shape");
  TORCH_CHECK(h0.is_contiguous() && w_ih.is_contiguous() && w_hh.is_contiguous(), "inputs must be contiguous");
  TORCH_CHECK((int64_t)T * N < INT32_MAX, "sequence too long for 32-bit BLAS");
  const bool has_len = present(lengths_opt);
  const int64_t* len = has_len ? lengths_opt->data_ptr<int64_t>() : nullptr;
  save = save && gru;

  auto opt = x.options();
  at::Tensor output = pooled_empty({T, N, H}, opt);
  at::Tensor h_n = at::empty({N, H}, opt);
  at::Tensor gates = save ? pooled_empty({T, N, 4 * H}, opt) : at::empty({0}, opt);
  if (T == 0 || N == 0 || H == 0) {
    h_n.copy_(h0);
    return {output, h_n, gates};
  }

  Blocks blk(H);
  auto perm = blk.perm(G);
  at::Tensor wih_p = to_block_rows(w_ih, perm);
  at::Tensor whh_p = to_block_rows(w_hh, perm);
  at::Tensor bx = at::zeros({GH}, opt);   // b_ih (+ b_hh for the r, z gates)
  at::Tensor bhn = at::zeros({GH}, opt);  // GRU: b_hh (only its n block is read)
  if (present(b_ih)) bx += to_block_rows(*b_ih, perm);
  if (present(b_hh)) {
    if (gru) {
      bhn = to_block_rows(*b_hh, perm);
      at::Tensor rz = b_hh->clone();
      rz.narrow(0, 2 * H, H).zero_();
      bx += to_block_rows(rz, perm);
    } else {
      bx += to_block_rows(*b_hh, perm);
    }
  }

  int Tc = std::max(1, (kChunkRows + N - 1) / N);  // time chunk of the input projection
  if (const char* e = std::getenv("LSTMKIT_FUSED_TCHUNK")) Tc = std::max(1, std::atoi(e));
  Tc = std::min(Tc, T);
  const int Mc = Tc * N;
  at::Tensor Gc = pooled_empty({(int64_t)Tc * N * GH}, opt);
  at::Tensor ghs = gru ? at::empty({N, GH}, opt) : at::Tensor();
  at::Tensor hbuf = has_len ? at::empty({2, N, H}, opt) : at::Tensor();

  std::vector<size_t> off(2 * blk.nb + 1, 0);  // packed W_hh (M = N) and W_ih (M = Mc) per block
  for (int b = 0; b < blk.nb; ++b) {
    off[2 * b + 1] = off[2 * b] + (PackedB::bytes(N, G * blk.size(b), H) / 4 + 16) / 16 * 16;
    off[2 * b + 2] = off[2 * b + 1] + (PackedB::bytes(Mc, G * blk.size(b), I) / 4 + 16) / 16 * 16;
  }
  at::Tensor pk_store = pooled_empty({(int64_t)std::max<size_t>(off[2 * blk.nb], 1)}, opt);
  std::vector<PackedB> pk_hh(blk.nb), pk_ih(blk.nb);

  PhaseTimer timer(gru ? "lstmkit gru forward:" : "lstmkit rnn forward:");
  ErrorSlot err;
  const int64_t NH = (int64_t)N * H, NG = (int64_t)N * GH, NI = (int64_t)N * I, NS = (int64_t)N * 4 * H;
  const float* X = x.data_ptr<float>();
  const float* Wih = wih_p.data_ptr<float>();
  const float* Whh = whh_p.data_ptr<float>();
  const float* BX = bx.data_ptr<float>();
  const float* BHN = bhn.data_ptr<float>();
  const float* H0 = h0.data_ptr<float>();
  float* GC = Gc.data_ptr<float>();
  float* GHS = gru ? ghs.data_ptr<float>() : nullptr;
  float* GS = save ? gates.data_ptr<float>() : nullptr;
  float* OUT = output.data_ptr<float>();
  float* HB = has_len ? hbuf.data_ptr<float>() : nullptr;
  float* PK = pk_store.data_ptr<float>();

  run_threads(step_threads(N, GH, H, blk.nb), [&](int tid, int nth) {
    const int b0 = blk.nb * tid / nth, b1 = blk.nb * (tid + 1) / nth;
    for (int b = b0; b < b1; ++b) {
      const int rows = G * blk.size(b);
      const int64_t wofs = (int64_t)G * blk.u[b];
      pk_hh[b].pack(N, rows, H, Whh + wofs * H, H, true, PackedB::bytes(N, rows, H) ? PK + off[2 * b] : nullptr);
      pk_ih[b].pack(Mc, rows, I, Wih + wofs * I, I, true, PackedB::bytes(Mc, rows, I) ? PK + off[2 * b + 1] : nullptr);
    }
    for (int s = 0; s < T; ++s) {
      const int t = reverse ? T - 1 - s : s;
      const int tp = reverse ? t + 1 : t - 1;
      const int cs0 = s / Tc * Tc, tc = std::min(Tc, T - cs0);  // chunk [cs0, cs0+tc) of steps
      const int tlo = reverse ? T - cs0 - tc : cs0;             // = times [tlo, tlo+tc)
      float* Gt = GC + (int64_t)(t - tlo) * NG;
      if (s == cs0) {  // project x for the whole chunk, own block columns only
        for (int b = b0; b < b1; ++b) {
          const int64_t gofs = (int64_t)G * blk.u[b];
          if (tc == Tc) pk_ih[b].run(X + (int64_t)tlo * NI, I, 0.f, GC + gofs, GH, &err);
          else gemm(false, true, tc * N, G * blk.size(b), I, X + (int64_t)tlo * NI, I, Wih + gofs * I, I, 0.f, GC + gofs, GH, &err);
        }
      }
      const float* hp = s == 0 ? H0 : (has_len ? HB + (int64_t)((s - 1) & 1) * NH : OUT + tp * NH);
      float* hnext = has_len ? HB + (int64_t)(s & 1) * NH : nullptr;
      float* Ot = OUT + t * NH;
      for (int b = b0; b < b1; ++b) {
        const int u0 = blk.u[b], sz = blk.size(b);
        const int64_t gofs = (int64_t)G * u0;
        if (gru) pk_hh[b].run(hp, H, 0.f, GHS + gofs, GH, &err);
        else pk_hh[b].run(hp, H, 1.f, Gt + gofs, GH, &err);
        for (int n = 0; n < N; ++n) {
          const int64_t so = (int64_t)n * H + u0;
          float* gsave = GS ? GS + t * NS + (int64_t)n * 4 * H + 4 * (int64_t)u0 : nullptr;
          if (has_len && t >= len[n]) {  // inactive: state frozen, output 0
            std::memset(Ot + so, 0, sizeof(float) * sz);
            std::memcpy(hnext + so, hp + so, sizeof(float) * sz);
            if (gsave) std::memset(gsave, 0, sizeof(float) * 4 * sz);
            continue;
          }
          float* hn = hnext ? hnext + so : nullptr;
          if (gru)
            gru_fwd_point(Gt + (int64_t)n * GH + gofs, GHS + (int64_t)n * GH + gofs, BX + gofs, BHN + gofs + 2 * sz,
                          hp + so, sz, Ot + so, hn, gsave);
          else
            rnn_fwd_point(Gt + (int64_t)n * GH + gofs, BX + gofs, sz, relu, Ot + so, hn);
        }
      }
      barrier(nth);
    }
  });
  if (err.set) TORCH_CHECK(false, "lstmkit fused forward: ", err.msg);
  timer.lap("loop");
  if (has_len) h_n.copy_(hbuf[(T - 1) & 1]);
  else h_n.copy_(output[reverse ? 0 : T - 1]);
  return {output, h_n, gates};
}

// ---------------------------------------------------------------------------------------
// Backward.
//   Saved: x, h0, w_ih, w_hh, output (T,N,H), gates (GRU: (T,N,4H) [r z n gh_n]).
//   Incoming: d_out (T,N,H), d_hn (N,H).  need: [x, h0, w_ih, w_hh, bias].
// Returns [dx (T,N,I), dh0 (N,H), dw_ih (GH,I), dw_hh (GH,H), db_ih (GH), db_hh (GH)]
// (undefined where not needed; the RNN's db_hh is db_ih, the caller copies it).
// Per step (reverse order), each thread owns fixed groups of hidden blocks:
//   pointwise -> dGx_t (and dGh_t) ; barrier ; dh[:, group] (+)= dGh_t W_hh_p[:, group]
// then dX = dGx W_ih_p, dW_ih = dGx^T X, dW_hh = dGh^T Hprev as big GEMMs.
// Scratch owned here: dGx (T,N,GH), dGh (T,N,GH) (GRU), running dh, permuted and packed
// weights, dstart (N,GH) (reverse with lengths).
// ---------------------------------------------------------------------------------------
std::vector<at::Tensor> backward(int64_t cell, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_ih,
                                 const at::Tensor& w_hh, const at::Tensor& output, const at::Tensor& gates,
                                 const at::Tensor& d_out_in, const at::Tensor& d_hn_in, bool reverse,
                                 const c10::optional<at::Tensor>& lengths_opt, std::vector<bool> need) {
  TORCH_CHECK(cell >= 0 && cell <= 2, "cell must be 0 (GRU), 1 (RNN tanh) or 2 (RNN relu)");
  const bool gru = cell == kGRU, relu = cell == kRelu;
  const int G = gru ? 3 : 1;
  const int T = (int)x.size(0), N = (int)x.size(1), I = (int)x.size(2), H = (int)w_hh.size(1);
  const int GH = G * H;
  TORCH_CHECK(need.size() == 5, "need must have 5 flags");
  TORCH_CHECK(output.is_contiguous(), "output must be contiguous");
  const at::Tensor d_out = pooled_contiguous(d_out_in), d_hn = pooled_contiguous(d_hn_in);
  TORCH_CHECK(!gru || gates.numel() == (int64_t)T * N * 4 * H, "missing saved gates");
  const bool has_len = present(lengths_opt);
  const int64_t* len = has_len ? lengths_opt->data_ptr<int64_t>() : nullptr;
  auto opt = x.options();

  PhaseTimer timer(cell == kGRU ? "lstmkit gru backward:" : "lstmkit rnn backward:");
  at::Tensor dh = d_hn.clone();  // running dL/dh_t arriving from step t+1
  at::Tensor dx, dw_ih, dw_hh, db_ih, db_hh;
  if (T == 0 || N == 0 || H == 0) {
    if (need[0]) dx = at::zeros_like(x);
    if (need[2]) dw_ih = at::zeros_like(w_ih);
    if (need[3]) dw_hh = at::zeros_like(w_hh);
    if (need[4]) { db_ih = at::zeros({GH}, opt); db_hh = at::zeros({GH}, opt); }
    return {dx, dh, dw_ih, dw_hh, db_ih, db_hh};
  }
  at::Tensor dGx = pooled_empty({T, N, GH}, opt);
  at::Tensor dGh = gru ? pooled_empty({T, N, GH}, opt) : dGx;

  Blocks blk(H);
  auto perm = blk.perm(G);
  at::Tensor wih_p = to_block_rows(w_ih, perm);
  at::Tensor whh_p = to_block_rows(w_hh, perm);
  // groups of consecutive blocks (fixed by H only): one thread's unit of work in the loop
  const int ng = std::min(blk.nb, std::max(blk.nb >= 2 ? 2 : 1, (H + 128) / 256));
  std::vector<int> gb(ng + 1);
  for (int g = 0; g <= ng; ++g) gb[g] = blk.nb * g / ng;
  at::Tensor dbx = need[4] ? at::zeros({GH}, opt) : at::Tensor();
  at::Tensor dbh = (need[4] && gru) ? at::zeros({GH}, opt) : at::Tensor();

  timer.lap("permute");
  ErrorSlot err;
  const float* Wp = whh_p.data_ptr<float>();
  const float* GA = gru ? gates.data_ptr<float>() : nullptr;
  const float* OUT = output.data_ptr<float>();
  const float* H0 = h0.data_ptr<float>();
  const float* DO = d_out.data_ptr<float>();
  float* DGX = dGx.data_ptr<float>();
  float* DGH = dGh.data_ptr<float>();
  float* DH = dh.data_ptr<float>();
  float* DBX = need[4] ? dbx.data_ptr<float>() : nullptr;
  float* DBH = (need[4] && gru) ? dbh.data_ptr<float>() : nullptr;
  const int64_t NH = (int64_t)N * H, NG = (int64_t)N * GH, NS = (int64_t)N * 4 * H;
  // GRU: dh = dht * z is written for active rows, the GEMM adds onto it; RNN as the LSTM:
  // the GEMM overwrites dh, or (lengths) adds onto active rows zeroed by the pointwise pass.
  const float beta = (gru || has_len) ? 1.f : 0.f;

  // W_hh_p[:, group] packed once per group for the per-step dh GEMM (M = N, K = GH)
  std::vector<size_t> poff(ng + 1, 0);
  for (int g = 0; g < ng; ++g)
    poff[g + 1] = poff[g] + (PackedB::bytes(N, blk.u[gb[g + 1]] - blk.u[gb[g]], GH) / 4 + 16) / 16 * 16;
  at::Tensor pk_store = pooled_empty({(int64_t)std::max<size_t>(poff[ng], 1)}, opt);
  std::vector<PackedB> pk(ng);
  float* PK = pk_store.data_ptr<float>();

  run_threads(step_threads(N, GH, H, ng), [&](int tid, int nth) {
    const int g0 = ng * tid / nth, g1 = ng * (tid + 1) / nth;
    const int b0 = gb[g0], b1 = gb[g1];
    for (int gi = g0; gi < g1; ++gi) {
      const int u0 = blk.u[gb[gi]], cols = blk.u[gb[gi + 1]] - u0;
      pk[gi].pack(N, cols, GH, Wp + u0, H, false, PackedB::bytes(N, cols, GH) ? PK + poff[gi] : nullptr);
    }
    for (int s = T - 1; s >= 0; --s) {
      const int t = reverse ? T - 1 - s : s;
      const int tp = reverse ? t + 1 : t - 1;
      const float* DOt = DO + t * NH;
      for (int b = b0; b < b1; ++b) {
        const int u0 = blk.u[b], sz = blk.size(b);
        const int64_t gofs = (int64_t)G * u0;
        for (int n = 0; n < N; ++n) {
          const int64_t so = (int64_t)n * H + u0, go = t * NG + (int64_t)n * GH + gofs;
          if (has_len && t >= len[n]) {  // inactive: dG = 0, dh passes through
            std::memset(DGX + go, 0, sizeof(float) * G * sz);
            if (gru) std::memset(DGH + go, 0, sizeof(float) * G * sz);
            continue;
          }
          if (gru) {
            const int last = reverse ? (has_len ? (int)len[n] : T) - 1 : 0;  // first real step
            const float* hp = t == last ? H0 + (int64_t)n * H : OUT + tp * NH + (int64_t)n * H;
            gru_bwd_point(GA + t * NS + (int64_t)n * 4 * H + 4 * (int64_t)u0, hp + u0, DH + so, DOt + so,
                          DGX + go, DGH + go, DBX ? DBX + gofs : nullptr, DBH ? DBH + gofs : nullptr, sz);
          } else {
            rnn_bwd_point(OUT + t * NH + so, DH + so, DOt + so, relu, DGX + go, DBX ? DBX + gofs : nullptr, sz);
            if (has_len) std::memset(DH + so, 0, sizeof(float) * sz);
          }
        }
      }
      barrier(nth);
      const float* DGt = DGH + t * NG;
      for (int gi = g0; gi < g1; ++gi)  // dh_{t-1}[:, group] (+)= dGh_t W_hh_p[:, group]
        pk[gi].run(DGt, GH, beta, DH + blk.u[gb[gi]], H, &err);
    }
  });
  if (err.set) TORCH_CHECK(false, "lstmkit fused backward: ", err.msg);
  timer.lap("recurrence");

  const int64_t R = (int64_t)T * N;
  TORCH_CHECK(R < INT32_MAX, "sequence too long for 32-bit BLAS");
  if (need[0]) {  // dX = dGx W_ih_p
    dx = pooled_empty({T, N, I}, opt);
    big_gemm_rows(R, I, GH, DGX, GH, wih_p.data_ptr<float>(), I, false, dx.data_ptr<float>(), I, &err);
  }
  timer.lap("dx_gemm");
  // Weight gradients, chunked over the GH columns of dG (block layout):
  //   dWih^T[:, chunk] (I, cols) = X^T dGx[:, chunk] ;  dWhh^T[:, chunk] (H, cols) = h0^T dGh_first + Hprev^T dGh_rest
  // each computed into a per-thread scratch and written transposed straight to the torch-order
  // rows (perm) while in cache: big GEMMs instead of one thin product per (block, gate).
  if (need[2]) dw_ih = pooled_empty({GH, I}, opt);
  if (need[3]) dw_hh = pooled_empty({GH, H}, opt);
  at::Tensor dstart;
  const float* DS = nullptr;  // rows of dGh whose previous state is h0
  if (need[3]) {
    if (has_len && reverse) {
      dstart = at::empty({N, GH}, opt);
      for (int n = 0; n < N; ++n)
        std::memcpy(dstart.data_ptr<float>() + (int64_t)n * GH, DGH + (len[n] - 1) * NG + (int64_t)n * GH,
                    sizeof(float) * GH);
      DS = dstart.data_ptr<float>();
    } else {
      DS = DGH + (reverse ? (int64_t)(T - 1) * NG : 0);
    }
  }
  // the other steps' rows and their previous outputs, contiguous (a reverse sequence's first
  // real step meets output[len] = 0 there: it contributes through DS only)
  const float* DGrest = DGH + (reverse ? 0 : NG);
  const float* Hrest = OUT + (reverse ? NH : 0);
  const int64_t Rrest = (int64_t)(T - 1) * N;
  const float* X = x.data_ptr<float>();
  const int nwc = (GH + kColChunk - 1) / kColChunk;
  const int nih = need[2] ? nwc : 0, nhh = need[3] ? nwc : 0;
  // per thread: the chunk's result (scr_sz) and gemm_tn's transposed operand (tn_sz)
  const int64_t scr_sz = (int64_t)std::max(I, H) * kColChunk, tn_sz = (int64_t)gemm_tn_scratch(std::max(I, H));
  at::Tensor wscr = (nih + nhh) ? pooled_empty({chunk_threads(nih + nhh) * (scr_sz + tn_sz)}, opt) : at::Tensor();
  parallel_chunks_tid(nih + nhh, [&](int64_t job, int tid) {
    const bool ih = job < nih;
    const int c0 = (int)(ih ? job : job - nih) * kColChunk, cols = std::min(kColChunk, GH - c0);
    float* C = wscr.data_ptr<float>() + tid * (scr_sz + tn_sz);
    float* TS = C + scr_sz;
    if (ih) {
      gemm_tn(I, cols, (int)R, X, I, DGX + c0, GH, 0.f, C, cols, TS, &err);
      transpose_to_rows(C, cols, I, cols, perm.data() + c0, dw_ih.data_ptr<float>(), I);
    } else {
      gemm_tn(H, cols, N, H0, H, DS + c0, GH, 0.f, C, cols, TS, &err);
      if (Rrest > 0) gemm_tn(H, cols, (int)Rrest, Hrest, H, DGrest + c0, GH, 1.f, C, cols, TS, &err);
      transpose_to_rows(C, cols, H, cols, perm.data() + c0, dw_hh.data_ptr<float>(), H);
    }
  }, 2.0 * R * GH * ((need[2] ? I : 0) + (need[3] ? H : 0)));
  if (err.set) TORCH_CHECK(false, "lstmkit fused backward: ", err.msg);
  timer.lap("dw_gemms");
  if (need[4]) {
    db_ih = from_block_rows(dbx, perm);
    if (gru) db_hh = from_block_rows(dbh, perm);
  }
  timer.lap("unpermute");
  return {dx, dh, dw_ih, dw_hh, db_ih, db_hh};
}

// index[k*H + j] = position of slot k of unit j in a block layout of S slots per unit (the
// GRU's saved gates: S = 4, [r z n gh_n]); gates.index_select(-1, index) is in torch order.
at::Tensor block_index(int64_t H, int64_t S) {
  Blocks blk((int)H);
  at::Tensor idx = at::empty({S * H}, at::kLong);
  int64_t* p = idx.data_ptr<int64_t>();
  for (int k = 0; k < S; ++k)
    for (int j = 0; j < H; ++j) p[k * H + j] = blk.pos((int)S, k, j);
  return idx;
}

// info(H) and set_brgemm(on): fused_common.h (brgemm_kernel_info, set_brgemm).

}  // namespace lstmkit_gr

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  lstmkit::common::blas();  // resolve the BLAS symbols and probe brgemm once, on the importing thread
  m.def("gru_rnn_forward", &lstmkit_gr::forward, "fused GRU / RNN layer forward");
  m.def("gru_rnn_backward", &lstmkit_gr::backward, "fused GRU / RNN layer backward");
  m.def("block_index", &lstmkit_gr::block_index, "block-layout position of each torch-order slot");
  m.def("info", &lstmkit::common::brgemm_kernel_info, "kernel configuration", pybind11::arg("H") = 0);
  m.def("pool_stats", &lstmkit::common::pool_stats, "(bytes the buffer pool holds free, its cap)");
  m.def("set_blas_mode", &lstmkit::common::set_blas_mode, "select GEMM path (tests)");
  m.def("set_brgemm", &lstmkit::common::set_brgemm, "use oneDNN brgemm for the repeated-operand GEMMs (tests)");
  m.def("set_brgemm_panel", &lstmkit::common::set_brgemm_panel, "brgemm's B-panel budget in bytes, 0: from L2 (tests)");
  m.def("set_brgemm_columns", &lstmkit::common::set_brgemm_columns,
        "columns per brgemm slice of a panel over the budget, 0: K-row slices only, -1: by the budget (tests)");
}

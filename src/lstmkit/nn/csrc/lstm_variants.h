// lstmkit fused CPU kernels: the LSTM variants (peephole, CIFG, layer norm, recurrent dropout,
// zoneout, with lengths, reverse and projection), forward and backward.  Included by
// lstm_fused.cpp (shares its buffer pool and, from fused_common.h, the BLAS binding,
// threading helpers and vector math).
//
// Equations: see lstmkit/nn/cells.py (lstm_cell) and scan.py (the oracle).  Gate order along
// the G*H rows is torch's: i, f, g, o (G = 4) or f, g, o with cifg (G = 3, i = 1 - f).
// Per step, with m the recurrent-dropout mask (N,P) and zh/zc the zoneout masks of step t:
//   a     = (h_{t-1} * m) W_hh^T                       (N, GH)      GEMM, column chunks
//   pre   = LN_ih(x_t W_ih^T) + LN_hh(a) + b_ih + b_hh (LN only with layer_norm)
//   f_pre += w_cf * c_{t-1};  i_pre += w_ci * c_{t-1}                (peephole)
//   c_new = f * c_{t-1} + i * g ; o_pre += w_co * c_new ; h_new = o * tanh(LN_c(c_new))
//   h_new = h_new W_hr^T                                             (projection)
//   c_t = zc ? c_{t-1} : c_new ;  h_t = zh ? h_{t-1} : h_new        (zoneout, training)
//   c_t = pc c_{t-1} + (1 - pc) c_new ; h_t = ph h_{t-1} + (1 - ph) h_new  (zoneout's expectation:
//                                                                      evaluation, Krueger et al.)
//   steps past a sequence's end: state frozen, output 0.
//
// Parallel structure (one OpenMP region for the whole sequence; bitwise identical results
// at any thread count): GEMMs are cut into column chunks fixed by the sizes only; the
// pointwise work (which needs whole rows for the layer norms) is cut by batch rows, and a
// row's arithmetic never depends on which thread does it.  Per step: GEMM | barrier |
// rows | barrier (+ one more phase for the projection).  Parameter-gradient reductions use
// per-row accumulators summed in a fixed order, or column chunks summed over rows in order.
//
// Input projection: x W_ih^T for Tc steps at a time (Tc*N >= ~256 rows) into a ring buffer
// that stays in cache, by column chunks in the GEMM phase of the chunk's first step.  Layer
// norm: LN_ih is applied to each row in the row phase (which saves ihat and its 1/std when
// training).  In the backward the row pass of each
// step also does LN_ih's backward (dGX) and accumulates d ln_ih_w, so dG is never stored: the
// loop writes dA (through LN_hh) and dGX, the inputs of the weight-gradient GEMMs.
//
// Branches on the options are runtime flags hoisted out of the element loops where it
// matters (measured: the per-row loops are memory-bound, the flags cost < 2%).

namespace lstmkit {
namespace var {

// row_stats (a layer norm's mean and 1/std): fused_common.h.

// sums of d[j] and d[j] * xh[j] (two accumulators each, as row_stats, so the adds do not
// wait on one another)
static inline void row_sums2(const float* d, const float* xh, int n, float& s1, float& s2) {
  vf a0 = {}, a1 = {}, b0 = {}, b1 = {};
  int j = 0;
  for (; j + 2 * VW <= n; j += 2 * VW) {
    vf d0 = ld(d + j), d1 = ld(d + j + VW);
    a0 += d0;
    a1 += d1;
    b0 += d0 * ld(xh + j);
    b1 += d1 * ld(xh + j + VW);
  }
  for (; j + VW <= n; j += VW) {
    vf dv = ld(d + j);
    a0 += dv;
    b0 += dv * ld(xh + j);
  }
  s1 = hsum(a0 + a1);
  s2 = hsum(b0 + b1);
  for (; j < n; ++j) {
    s1 += d[j];
    s2 += d[j] * xh[j];
  }
}

// Zoneout's selections, branch-free: the masks are random, so a branch per element is
// mispredicted at about every p-th one (it cost ~1 ms of a 5 ms call at 100,32,128); a bit
// select is exact (no arithmetic touches the values) and vectorizes.
static inline uint32_t fbits(float v) { uint32_t u; std::memcpy(&u, &v, 4); return u; }
static inline float bitsf(uint32_t u) { float v; std::memcpy(&v, &u, 4); return v; }
// z ? a : b
static inline float zsel(bool z, float a, float b) {
  const uint32_t m = 0u - (uint32_t)z;  // all ones where z
  return bitsf((fbits(a) & m) | (fbits(b) & ~m));
}
// VW mask bytes (bool: 0 or 1) as all-ones / all-zero 32-bit lanes
typedef uint8_t vz __attribute__((vector_size(VW)));
static inline vi zlanes(const bool* z) {
  vz b;
  std::memcpy(&b, z, VW);
  return -__builtin_convertvector(b, vi);
}
static inline vf vsel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }  // m ? a : b
// out[j] = z[j] ? kept[j] : fresh[j] (out may alias either), VW lanes at a time
static inline void zselect(float* out, const float* kept, const float* fresh, const bool* z, int n) {
  int j = 0;
  for (; j + VW <= n; j += VW) st(out + j, vsel(zlanes(z + j), ld(kept + j), ld(fresh + j)));
  for (; j < n; ++j) out[j] = zsel(z[j], kept[j], fresh[j]);
}
// v = dh[j] + dout[j], split by the zoneout mask: where z[j] the gradient passes to h_{t-1}
// (dh[j] = v, fresh[j] = 0), else it enters the step (fresh[j] = v, dh[j] = 0).
static inline void zsplit(float* fresh, float* dh, const float* dout, const bool* z, int n) {
  int j = 0;
  const vf zero = {};
  for (; j + VW <= n; j += VW) {
    const vi m = zlanes(z + j);
    const vf v = ld(dh + j) + ld(dout + j);
    st(fresh + j, vsel(m, zero, v));
    st(dh + j, vsel(m, v, zero));
  }
  for (; j < n; ++j) {
    const float v = dh[j] + dout[j];
    fresh[j] = zsel(z[j], 0.f, v);
    dh[j] = zsel(z[j], v, 0.f);
  }
}

// the carried gradient d (dc_t) split by the zoneout mask: where z[j] it passes on to c_{t-1}
// (d[j] kept), else it is added to dnew[j] (d c_new) and d[j] = 0
static inline void zkeep_split(float* dnew, float* d, const bool* z, int n) {
  int j = 0;
  const vf zero = {};
  for (; j + VW <= n; j += VW) {
    const vi m = zlanes(z + j);
    const vf v = ld(d + j);
    st(dnew + j, ld(dnew + j) + vsel(m, zero, v));
    st(d + j, vsel(m, v, zero));
  }
  for (; j < n; ++j) {
    const float v = d[j];
    dnew[j] += zsel(z[j], 0.f, v);
    d[j] = zsel(z[j], v, 0.f);
  }
}

// Zoneout's expectation (evaluation mode): zblend (fused_common.h) in the forward; its backward:
// v = dh[j] + dout[j]; h_{t-1} gets p * v (dh[j]), the step (1 - p) * v (fresh[j])
static inline void zsplit_blend(float* fresh, float* dh, const float* dout, float p, int n) {
  const float q = 1.0f - p;
  for (int j = 0; j < n; ++j) {
    const float v = dh[j] + dout[j];
    fresh[j] = v * q;
    dh[j] = v * p;
  }
}
// and of c: d (dc_t) gives (1 - p) * d to dnew (d c_new) and keeps p * d for c_{t-1}
static inline void zkeep_split_blend(float* dnew, float* d, float p, int n) {
  const float q = 1.0f - p;
  for (int j = 0; j < n; ++j) {
    dnew[j] += d[j] * q;
    d[j] *= p;
  }
}

// Zoneout's keep-masks (lstmkit/nn/stack.py, bernoulli_mask, whose torch version computes the
// same bits): word w of the stream is SplitMix64's output for the counter seed + (w + 1) * gamma
// (Steele, Lea & Flood 2014; a counter-based generator, so any word is computed on its own);
// element e reads the 16-bit slice e % 4 of word e / 4 as an int16 and is True when that slice
// is <= threshold (threshold = k - 32769 gives probability k / 65536).  ~20x faster than
// torch's CPU random_ (mt19937, one 64-bit draw per four elements).
static inline uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void bernoulli_mask_fill(at::Tensor& out, int64_t seed, int64_t threshold) {
  TORCH_CHECK(out.scalar_type() == at::kBool && out.is_contiguous() && out.device().is_cpu(),
              "bernoulli_mask_fill: out must be a contiguous CPU bool tensor");
  const int64_t n = out.numel();
  uint8_t* o = reinterpret_cast<uint8_t*>(out.data_ptr<bool>());
  const uint64_t s = (uint64_t)seed, gamma = 0x9E3779B97F4A7C15ull;
  const int thr = (int)std::max<int64_t>(-32769, std::min<int64_t>(32767, threshold));
  const int64_t full = n / 4;
  for (int64_t w = 0; w < full; ++w) {
    const uint64_t z = splitmix64(s + (uint64_t)(w + 1) * gamma);
    for (int j = 0; j < 4; ++j) o[4 * w + j] = (uint8_t)((int)(int16_t)(uint16_t)(z >> (16 * j)) <= thr);
  }
  if (n > 4 * full) {
    const uint64_t z = splitmix64(s + (uint64_t)(full + 1) * gamma);
    for (int64_t e = 4 * full; e < n; ++e)
      o[e] = (uint8_t)((int)(int16_t)(uint16_t)(z >> (16 * (e - 4 * full))) <= thr);
  }
}

// stn for buffers saved for the backward only (the gates i, f, g and layer norm's normalised
// rows): a full, 64-byte aligned vector goes out with a non-temporal store (no read of the
// line it replaces, and no cache line taken from the step's working set: layer-norm training
// 2-3% faster at the default shapes); anything else as stn.  The forward's threads end with an
// sfence.
// With 8-lane (AVX2) vectors a full, 32-byte aligned vector is streamed the same way: the
// saved rows would otherwise evict the packed W_hh panel from L2 (AVX2 layer-norm training
// at 100,64,256: the forward's products 58.7 ms against peephole's 49.5).
// Both measured on the Zen 5 (1 MiB of L2).  On the Zen 3 (512 KiB of L2) the same stores made
// layer-norm training slower (100,32,128: 0.84x -> 0.89x torch.nn.LSTM without them, 100,64,512:
// 0.84x -> 0.95x, 500,16,128: 0.98x -> 1.05x, one thread; two threads alike; peephole and
// zoneout level), so with under 1 MiB of L2 every store is a plain one (stream_saved).
#if (defined(__AVX512F__) && (LSTMKIT_VW == 16)) || (defined(__AVX__) && (LSTMKIT_VW == 8))
#define LSTMKIT_STREAM_STORES 1
#else
#define LSTMKIT_STREAM_STORES 0
#endif
static const bool stream_saved = common::l2_bytes() >= (1 << 20);
static inline void stn_nt(float* p, vf v, int m) {
  if (!stream_saved) {
    stn(p, v, m);
    return;
  }
#if defined(__AVX512F__) && (LSTMKIT_VW == 16)
  if (m == VW && ((uintptr_t)p & 63) == 0) { _mm512_stream_ps(p, (__m512)v); return; }
#elif defined(__AVX__) && (LSTMKIT_VW == 8)
  if (m == VW && ((uintptr_t)p & 31) == 0) { _mm256_stream_ps(p, (__m256)v); return; }
#endif
  stn(p, v, m);
}

// Fixed column chunks of n columns (about `target` wide, multiples of 16 where possible).
static std::vector<int> col_chunks(int n, int target) {
  int k = std::max(1, std::min(16, (n + target / 2) / std::max(1, target)));
  std::vector<int> c{0};
  for (int i = 1; i <= k; ++i) {
    int v = (int)((int64_t)n * i / k);
    if (i != k) v = v / 16 * 16;
    if (v > c.back()) c.push_back(v);
  }
  if (c.back() != n) c.push_back(n);
  return c;
}

struct Cfg {
  int T = 0, N = 0, I = 0, H = 0, P = 0, G = 4, GH = 0;
  bool cifg = false, peep = false, ln = false, proj = false, zo = false, rd = false, has_len = false, reverse = false;
  // zoneout's expectation (no masks): h and c keep p of their previous value
  bool zx = false;
  float pzh = 0.f, pzc = 0.f;
};

static inline float* fptr(const at::Tensor& t) { return t.defined() && t.numel() ? t.data_ptr<float>() : nullptr; }
static inline bool present(const c10::optional<at::Tensor>& t) { return t.has_value() && t->defined() && t->numel() > 0; }

// extra = [w_ci, w_cf, w_co, ln_ih_w, ln_ih_b, ln_hh_w, ln_hh_b, ln_c_w, ln_c_b] (empty = absent)
static Cfg make_cfg(const at::Tensor& x, const at::Tensor& c0, const at::Tensor& w_hh,
                    const c10::optional<at::Tensor>& w_hr, const std::vector<at::Tensor>& extra,
                    const c10::optional<at::Tensor>& rd, const c10::optional<at::Tensor>& zh, double zoneout_h,
                    double zoneout_c, bool cifg, bool reverse, const c10::optional<at::Tensor>& lengths) {
  Cfg c;
  c.T = (int)x.size(0); c.N = (int)x.size(1); c.I = (int)x.size(2);
  c.H = (int)c0.size(1); c.P = (int)w_hh.size(1);
  c.cifg = cifg; c.G = cifg ? 3 : 4; c.GH = c.G * c.H;
  TORCH_CHECK(extra.size() == 9, "extra must hold 9 tensors");
  c.peep = extra[1].numel() > 0;
  c.ln = extra[3].numel() > 0;
  c.proj = present(w_hr);
  c.zo = present(zh);
  TORCH_CHECK(zoneout_h >= 0 && zoneout_h < 1 && zoneout_c >= 0 && zoneout_c < 1, "zoneout expectation must lie in [0, 1)");
  c.zx = !c.zo && (zoneout_h > 0 || zoneout_c > 0);
  c.pzh = c.zx ? (float)zoneout_h : 0.f;
  c.pzc = c.zx ? (float)zoneout_c : 0.f;
  c.rd = present(rd);
  c.has_len = present(lengths);
  c.reverse = reverse;
  TORCH_CHECK(w_hh.size(0) == c.GH, "weight_hh must have G*H rows");
  TORCH_CHECK((int64_t)c.T * c.N < INT32_MAX, "sequence too long for 32-bit BLAS");
  return c;
}

// Threads for a call: enough for the row phases and the column chunks.
static inline int useful_threads(const Cfg& c, int nchunks) { return std::max(1, std::max(c.N, nchunks)); }

// ---------------------------------------------------------------------------------------
// Forward.  Returns [output (T,N,P), h_n (N,P), c_n (N,H), gates (T,N,GH) activated (torch
// layout; 0 past a sequence's end), cells (T,N,H) carried c_t, cnew (T,N,H) c_new before
// zoneout (== cells without zoneout), hin (T,N,P) the GEMM operand h_{t-1}*m of each step,
// rbuf (T,N,H) o*tanh(LN c) (projection), ihat (T,N,GH), irstd (T,N), ahat (T,N,GH),
// arstd (T,N), chat (T,N,H), crstd (T,N) (layer norm)].  Saved buffers are empty when
// save == false.
// ---------------------------------------------------------------------------------------
std::vector<at::Tensor> forward(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& c0,
                                const at::Tensor& w_ih, const at::Tensor& w_hh,
                                const c10::optional<at::Tensor>& b_ih, const c10::optional<at::Tensor>& b_hh,
                                const c10::optional<at::Tensor>& w_hr, const std::vector<at::Tensor>& extra,
                                const c10::optional<at::Tensor>& rd_mask, const c10::optional<at::Tensor>& zh_mask,
                                const c10::optional<at::Tensor>& zc_mask, double zoneout_h, double zoneout_c,
                                bool cifg, bool reverse, const c10::optional<at::Tensor>& lengths, bool save) {
  const Cfg c = make_cfg(x, c0, w_hh, w_hr, extra, rd_mask, zh_mask, zoneout_h, zoneout_c, cifg, reverse, lengths);
  const int T = c.T, N = c.N, I = c.I, H = c.H, P = c.P, GH = c.GH;
  TORCH_CHECK(x.is_contiguous() && h0.is_contiguous() && c0.is_contiguous() && w_ih.is_contiguous() && w_hh.is_contiguous(),
              "inputs must be contiguous");
  for (auto& e : extra) TORCH_CHECK(e.numel() == 0 || e.is_contiguous(), "extra tensors must be contiguous");
  PhaseTimer timer("lstmkit variant forward:");
  auto opt = x.options();
  const int64_t NH = (int64_t)N * H, NG = (int64_t)N * GH, NP = (int64_t)N * P, R = (int64_t)T * N;
  at::Tensor output = pooled_empty({T, N, P}, opt);
  at::Tensor h_n = at::empty({N, P}, opt);
  at::Tensor c_n = c0.clone();
  // saved buffers: from the pool (see BigPool)
  auto E = [&](std::initializer_list<int64_t> s) { return save ? pooled_empty(s, opt) : at::empty({0}, opt); };
  at::Tensor gates = E({T, N, GH}), cells = E({T, N, H});
  at::Tensor cnew = (save && (c.zo || c.zx)) ? pooled_empty({T, N, H}, opt) : cells;
  at::Tensor hin = save ? pooled_empty({T, N, P}, opt) : at::empty({2, N, P}, opt);
  at::Tensor rbuf = c.proj ? pooled_empty({save ? T : 1, N, H}, opt) : at::empty({0}, opt);
  at::Tensor ihat = (save && c.ln) ? pooled_empty({T, N, GH}, opt) : at::empty({0}, opt);
  at::Tensor irstd = (save && c.ln) ? at::empty({T, N}, opt) : at::empty({0}, opt);
  at::Tensor ahat = (save && c.ln) ? pooled_empty({T, N, GH}, opt) : at::empty({0}, opt);
  at::Tensor arstd = (save && c.ln) ? at::empty({T, N}, opt) : at::empty({0}, opt);
  at::Tensor chat = (save && c.ln) ? pooled_empty({T, N, H}, opt) : at::empty({0}, opt);
  at::Tensor crstd = (save && c.ln) ? at::empty({T, N}, opt) : at::empty({0}, opt);
  if (T == 0 || N == 0 || H == 0) {
    h_n.copy_(h0);
    return {output, h_n, c_n, gates, cells, cnew, hin, rbuf, ihat, irstd, ahat, arstd, chat, crstd};
  }
  ErrorSlot err;
  // The input projection x_t W_ih^T is done Tc steps at a time (Tc*N >= ~256 rows, fixed by N)
  // into a ring buffer GC (Tc, N, GH) that stays in cache, inside the step loop: at the first
  // step of a chunk each thread projects its own column chunks (phase A, before the barrier
  // that the row phase waits on anyway).  LN_ih (stats of the whole row) is applied in the row
  // phase, which saves ihat / irstd when training.
  int Tc = std::max(1, (kChunkRows + N - 1) / N);
  if (const char* e = std::getenv("LSTMKIT_FUSED_TCHUNK")) Tc = std::max(1, std::atoi(e));
  Tc = std::min(Tc, T);
  const int Mc = Tc * N;
  at::Tensor gc = pooled_empty({(int64_t)Mc * GH}, opt);
  float* GC = gc.data_ptr<float>();
  const float* X = x.data_ptr<float>();
  const float* Wih = w_ih.data_ptr<float>();
  const float* GIH = c.ln ? extra[3].data_ptr<float>() : nullptr;
  float* IH = fptr(ihat);
  float* IRS = fptr(irstd);
  timer.lap("alloc");
  at::Tensor bias = at::zeros({GH}, opt);
  if (present(b_ih)) bias += *b_ih;
  if (present(b_hh)) bias += *b_hh;
  // the layer norms' shifts are constant over the call: one bias vector b = b_ih + b_hh +
  // beta_ih + beta_hh, so the gate loop loads one vector where it loaded three
  if (c.ln) bias += extra[4] + extra[6];

  // A = hin W_hh^T (and the input projection) columns: chunks of G x clamp(H/2, 64, 256)
  // units, as the plain kernel's blocks (fixed by H only)
  const std::vector<int> ca = col_chunks(GH, c.G * std::min(256, std::max(64, H / 2)));
  const std::vector<int> cp = col_chunks(P, 128);          // projection output columns
  const int nca = (int)ca.size() - 1, ncp = c.proj ? (int)cp.size() - 1 : 0;
  std::vector<size_t> off(nca + ncp + 1, 0);
  for (int k = 0; k < nca; ++k) off[k + 1] = off[k] + (PackedB::bytes(N, ca[k + 1] - ca[k], P) / 4 + 16) / 16 * 16;
  for (int k = 0; k < ncp; ++k)
    off[nca + k + 1] = off[nca + k] + (PackedB::bytes(N, cp[k + 1] - cp[k], H) / 4 + 16) / 16 * 16;
  std::vector<size_t> offi(nca + 1, off.back());  // W_ih column chunks, packed for M = Mc
  for (int k = 0; k < nca; ++k) offi[k + 1] = offi[k] + (PackedB::bytes(Mc, ca[k + 1] - ca[k], I) / 4 + 16) / 16 * 16;
  at::Tensor pk_store = pooled_empty({(int64_t)std::max<size_t>(offi.back(), 1)}, opt);
  std::vector<PackedB> pka(nca), pki(nca), pkr(std::max(ncp, 1));
  const int nthr = std::min(at::get_num_threads(), useful_threads(c, std::max(nca, ncp)));
  at::Tensor scratch = at::empty({(int64_t)std::max(nthr, 1) * (GH + H + 16)}, opt);
  at::Tensor abuf = at::empty({N, GH}, opt);
  at::Tensor hb = at::empty({2, N, P}, opt);         // carried h ping-pong
  at::Tensor hnew = c.proj ? at::empty({N, P}, opt) : at::Tensor();

  const float* Whh = w_hh.data_ptr<float>();
  const float* Whr = c.proj ? w_hr->data_ptr<float>() : nullptr;
  const float* B = bias.data_ptr<float>();
  const float* WCI = (c.peep && !c.cifg) ? extra[0].data_ptr<float>() : nullptr;
  const float* WCF = c.peep ? extra[1].data_ptr<float>() : nullptr;
  const float* WCO = c.peep ? extra[2].data_ptr<float>() : nullptr;
  const float* GHH = c.ln ? extra[5].data_ptr<float>() : nullptr;
  const float* GCL = c.ln ? extra[7].data_ptr<float>() : nullptr;
  const float* BCL = c.ln ? extra[8].data_ptr<float>() : nullptr;
  const float* M = c.rd ? rd_mask->data_ptr<float>() : nullptr;
  const bool* ZH = c.zo ? zh_mask->data_ptr<bool>() : nullptr;
  const bool* ZC = c.zo ? zc_mask->data_ptr<bool>() : nullptr;
  const int64_t* len = c.has_len ? lengths->data_ptr<int64_t>() : nullptr;
  const float* H0 = h0.data_ptr<float>();
  float* OUT = output.data_ptr<float>();
  float* CS = c_n.data_ptr<float>();
  float* GS = fptr(gates);
  float* CC = fptr(cells);
  float* CN = fptr(cnew);
  float* HIN = hin.data_ptr<float>();
  float* RB = fptr(rbuf);
  float* AH = fptr(ahat);
  float* ARS = fptr(arstd);
  float* CH = fptr(chat);
  float* CRS = fptr(crstd);
  float* A = abuf.data_ptr<float>();
  float* HB = hb.data_ptr<float>();
  float* HNEW = c.proj ? hnew.data_ptr<float>() : nullptr;
  float* PK = pk_store.data_ptr<float>();
  float* SCR = scratch.data_ptr<float>();
  auto time_of = [&](int s) { return reverse ? T - 1 - s : s; };
  auto hin_at = [&](int s) { return save ? HIN + (int64_t)time_of(s) * NP : HIN + (int64_t)(s & 1) * NP; };
  // operand of the first step: h0 * m
  {
    float* d = hin_at(0);
    for (int64_t e = 0; e < NP; ++e) d[e] = M ? H0[e] * M[e] : H0[e];
  }

  timer.lap("setup");
  LoopProf prof0;
  run_threads(nthr, [&](int tid, int nth) {
    LoopProf prof(timer, tid == 0);
    const int r0 = (int)((int64_t)N * tid / nth), r1 = (int)((int64_t)N * (tid + 1) / nth);
    const int ka0 = nca * tid / nth, ka1 = nca * (tid + 1) / nth;
    const int kp0 = ncp * tid / nth, kp1 = ncp * (tid + 1) / nth;
    float* pre = SCR + (int64_t)tid * (GH + H + 16);  // (GH) pre-activations / activated gates
    float* cnr = pre + GH;                            // (H) c_new when not saved
    for (int k = ka0; k < ka1; ++k) {
      const int w = ca[k + 1] - ca[k];
      pka[k].pack(N, w, P, Whh + (int64_t)ca[k] * P, P, true, PackedB::bytes(N, w, P) ? PK + off[k] : nullptr);
      pki[k].pack(Mc, w, I, Wih + (int64_t)ca[k] * I, I, true, PackedB::bytes(Mc, w, I) ? PK + offi[k] : nullptr);
    }
    for (int k = kp0; k < kp1; ++k) {
      const int w = cp[k + 1] - cp[k];
      pkr[k].pack(N, w, H, Whr + (int64_t)cp[k] * H, H, true, PackedB::bytes(N, w, H) ? PK + off[nca + k] : nullptr);
    }
    prof.mark(0);
    for (int s = 0; s < T; ++s) {
      const int t = time_of(s);
      const float* hin_t = hin_at(s);
      float* hin_n = s + 1 < T ? hin_at(s + 1) : nullptr;
      const float* hprev = s == 0 ? H0 : HB + (int64_t)((s - 1) & 1) * NP;
      float* hcur = HB + (int64_t)(s & 1) * NP;
      float* Ot = OUT + (int64_t)t * NP;
      float* Rt = c.proj ? RB + (save ? (int64_t)t * NH : 0) : nullptr;
      // chunk of steps [cs0, cs0 + tc) covers times [tlo, tlo + tc); ring slot = t - tlo
      const int cs0 = s / Tc * Tc, tc = std::min(Tc, T - cs0);
      const int tlo = reverse ? T - cs0 - tc : cs0;
      float* gxt = GC + (int64_t)(t - tlo) * NG;
      // Phase A: (first step of a chunk) the chunk's input projection, then a = hin W_hh^T,
      // own column chunks.  Without layer norm the two terms are only summed, so the product
      // is added onto the projected input in place (one buffer for the rows to read, as the
      // plain kernel does); with it each is normalised on its own and a goes to A.
      if (s == cs0)
        for (int k = ka0; k < ka1; ++k) {
          if (tc == Tc && pki[k].ready()) pki[k].run(X + (int64_t)tlo * N * I, I, 0.f, GC + ca[k], GH, &err);
          else gemm(false, true, tc * N, ca[k + 1] - ca[k], I, X + (int64_t)tlo * N * I, I, Wih + (int64_t)ca[k] * I, I,
                    0.f, GC + ca[k], GH, &err);
        }
      for (int k = ka0; k < ka1; ++k) {
        float* dst = c.ln ? A + ca[k] : gxt + ca[k];
        const float beta = c.ln ? 0.f : 1.f;
        if (pka[k].ready()) pka[k].run(hin_t, P, beta, dst, GH, &err);
        else gemm(false, true, N, ca[k + 1] - ca[k], P, hin_t, P, Whh + (int64_t)ca[k] * P, P, beta, dst, GH, &err);
      }
      prof.mark(1);
      barrier(nth);
      prof.mark(2);
      // Phase B: rows
      for (int n = r0; n < r1; ++n) {
        const int64_t ro = (int64_t)t * N + n;
        float* cs = CS + (int64_t)n * H;
        float* gsave = GS ? GS + ro * GH : nullptr;
        float* csave = CC ? CC + ro * H : nullptr;
        float* cnw = CN ? CN + ro * H : cnr;
        const bool active = !len || t < len[n];
        if (!active) {
          if (gsave) std::memset(gsave, 0, sizeof(float) * GH);
          if (csave) std::memcpy(csave, cs, sizeof(float) * H);
          if (CN && CN != CC) std::memcpy(cnw, cs, sizeof(float) * H);
          if (AH) { std::memset(AH + ro * GH, 0, sizeof(float) * GH); ARS[ro] = 0.f; }
          if (IH) { std::memset(IH + ro * GH, 0, sizeof(float) * GH); IRS[ro] = 0.f; }
          if (CH) { std::memset(CH + ro * H, 0, sizeof(float) * H); CRS[ro] = 0.f; }
          if (c.proj) {
            std::memset(Rt + (int64_t)n * H, 0, sizeof(float) * H);
          } else {
            const float* hp = hprev + (int64_t)n * P;
            std::memset(Ot + (int64_t)n * P, 0, sizeof(float) * P);
            std::memcpy(hcur + (int64_t)n * P, hp, sizeof(float) * P);
            if (hin_n)
              for (int j = 0; j < P; ++j) hin_n[(int64_t)n * P + j] = M ? hp[j] * M[(int64_t)n * P + j] : hp[j];
          }
          continue;
        }
        const float* a = A + (int64_t)n * GH;
        const float* gx = gxt + (int64_t)n * GH;
        float* gt = gsave ? gsave : pre;
        // the pre-activations, computed where the gate loop needs them (no pass over the row
        // of its own): a + gx + b, or with layer norm LN_hh(a) + LN_ih(gx) + b, saving ahat /
        // ihat when training
        float mu = 0.f, rs = 1.f, imu = 0.f, irs = 1.f;
        float* ah = nullptr;
        float* ih = nullptr;
        if (c.ln) {
          row_stats(a, GH, mu, rs);
          row_stats(gx, GH, imu, irs);
          ah = AH ? AH + ro * GH : nullptr;
          ih = IH ? IH + ro * GH : nullptr;
          if (ARS) ARS[ro] = rs;
          if (IRS) IRS[ro] = irs;
        }
        auto preact = [&](int q, int m) -> vf {
          if (!c.ln) return ldn(gx + q, m) + ldn(B + q, m);  // gx holds x W_ih^T + a
          vf v = (ldn(a + q, m) - mu) * rs;
          vf xh = (ldn(gx + q, m) - imu) * irs;
          if (ah) stn_nt(ah + q, v, m);
          if (ih) stn_nt(ih + q, xh, m);
          return ldn(GHH + q, m) * v + ldn(GIH + q, m) * xh + ldn(B + q, m);
        };
        // gates and c_new (gt: the activated gates; only o when nothing is saved)
        const int oi = c.cifg ? -1 : 0, of = c.cifg ? 0 : H, og = c.cifg ? H : 2 * H, oo = c.cifg ? 2 * H : 3 * H;
        for (int j = 0; j < H; j += VW) {
          const int m = std::min(VW, H - j);
          vf cpv = ldn(cs + j, m);
          vf fp = preact(of + j, m);
          if (WCF) fp += ldn(WCF + j, m) * cpv;
          vf fg = vsigmoid(fp);
          vf ig;
          if (c.cifg) {
            ig = 1.0f - fg;
          } else {
            vf ip = preact(oi + j, m);
            if (WCI) ip += ldn(WCI + j, m) * cpv;
            ig = vsigmoid(ip);
            if (gsave) stn_nt(gt + oi + j, ig, m);
          }
          vf gg = vtanh(preact(og + j, m));
          vf cv = fg * cpv + ig * gg;
          vf op = preact(oo + j, m);
          if (WCO) op += ldn(WCO + j, m) * cv;
          if (gsave) {
            stn_nt(gt + of + j, fg, m);
            stn_nt(gt + og + j, gg, m);
          }
          stn(gt + oo + j, vsigmoid(op), m);
          stn(cnw + j, cv, m);
        }
        // h = o * tanh(LN_c(c_new))
        float cmu = 0.f, crs = 1.f;
        if (c.ln) {
          row_stats(cnw, H, cmu, crs);
          if (CRS) CRS[ro] = crs;
        }
        float* hr = c.proj ? Rt + (int64_t)n * H : Ot + (int64_t)n * P;
        float* chs = CH ? CH + ro * H : nullptr;
        for (int j = 0; j < H; j += VW) {
          const int m = std::min(VW, H - j);
          vf cv = ldn(cnw + j, m);
          if (c.ln) {
            vf xh = (cv - cmu) * crs;
            if (chs) stn_nt(chs + j, xh, m);
            cv = ldn(GCL + j, m) * xh + ldn(BCL + j, m);
          }
          stn(hr + j, ldn(gt + oo + j, m) * vtanh(cv), m);
        }
        // carried state (zoneout), outputs, next operand
        const int64_t so = (int64_t)n * H;
        if (c.zo) {
          const bool* zc = ZC + (int64_t)t * NH + so;
          zselect(cs, cs, cnw, zc, H);
        } else if (c.zx) {
          zblend(cs, cs, cnw, c.pzc, H);
        } else {
          std::memcpy(cs, cnw, sizeof(float) * H);
        }
        if (csave && csave != cnw) std::memcpy(csave, cs, sizeof(float) * H);
        if (!c.proj) {
          const int64_t po = (int64_t)n * P;
          float* o = Ot + po;
          const float* hp = hprev + po;
          if (c.zo) {
            const bool* zh = ZH + (int64_t)t * NP + po;
            zselect(o, hp, o, zh, P);
          } else if (c.zx) {
            zblend(o, hp, o, c.pzh, P);
          }
          std::memcpy(hcur + po, o, sizeof(float) * P);
          if (hin_n) {
            if (M) for (int j = 0; j < P; ++j) hin_n[po + j] = o[j] * M[po + j];
            else std::memcpy(hin_n + po, o, sizeof(float) * P);
          }
        }
      }
      prof.mark(3);
      barrier(nth);
      prof.mark(4);
      if (c.proj) {  // Phase C: h_new[:, chunk] = r W_hr[chunk]^T, then zoneout / lengths / mask
        for (int k = kp0; k < kp1; ++k) {
          const int p0 = cp[k], w = cp[k + 1] - cp[k];
          if (pkr[k].ready()) pkr[k].run(Rt, H, 0.f, HNEW + p0, P, &err);
          else gemm(false, true, N, w, H, Rt, H, Whr + (int64_t)p0 * H, H, 0.f, HNEW + p0, P, &err);
          for (int n = 0; n < N; ++n) {
            const int64_t po = (int64_t)n * P + p0;
            const bool active = !len || t < len[n];
            const bool* zh = c.zo ? ZH + (int64_t)t * NP + po : nullptr;
            for (int j = 0; j < w; ++j) {
              float v = hprev[po + j];
              if (active)
                v = zh ? zsel(zh[j], v, HNEW[po + j]) : c.zx ? v * c.pzh + HNEW[po + j] * (1.0f - c.pzh) : HNEW[po + j];
              hcur[po + j] = v;
              Ot[po + j] = active ? v : 0.f;
              if (hin_n) hin_n[po + j] = M ? v * M[po + j] : v;
            }
          }
        }
        barrier(nth);
      }
      prof.mark(5);
    }
    if (tid == 0) prof0 = prof;
#if LSTMKIT_STREAM_STORES
    _mm_sfence();  // this thread's non-temporal stores (stn_nt) ordered before the call returns
#endif
  });
  if (err.set) TORCH_CHECK(false, "lstmkit fused variant forward: ", err.msg);
  timer.lap("loop");
  prof0.report(timer, {"t0:pack", "t0:hh_gemm", "t0:bar1", "t0:rows", "t0:bar2", "t0:proj"});
  h_n.copy_(hb[(T - 1) & 1]);
  if (!save) hin = at::empty({0}, opt);
  if (!save && c.proj) rbuf = at::empty({0}, opt);
  return {output, h_n, c_n, gates, cells, cnew, hin, rbuf, ihat, irstd, ahat, arstd, chat, crstd};
}

// ---------------------------------------------------------------------------------------
// Backward.  saved = the forward's [gates, cells, cnew, hin, rbuf, ihat, irstd, ahat, arstd,
// chat, crstd].  need = [x, h0, c0, w_ih, w_hh, bias, w_hr, peephole, layer_norm].
// Returns [dx, dh0, dc0, dw_ih, dw_hh, db (GH), dw_hr, dw_ci, dw_cf, dw_co, dln_ih_w,
// dln_ih_b, dln_hh_w, dln_hh_b, dln_c_w, dln_c_b] (undefined where not needed/absent).
// ---------------------------------------------------------------------------------------
std::vector<at::Tensor> backward(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& c0,
                                 const at::Tensor& w_ih, const at::Tensor& w_hh,
                                 const c10::optional<at::Tensor>& w_hr, const std::vector<at::Tensor>& extra,
                                 const c10::optional<at::Tensor>& rd_mask, const c10::optional<at::Tensor>& zh_mask,
                                 const c10::optional<at::Tensor>& zc_mask, double zoneout_h, double zoneout_c,
                                 bool cifg, bool reverse, const c10::optional<at::Tensor>& lengths,
                                 const std::vector<at::Tensor>& saved,
                                 const at::Tensor& d_out_in, const at::Tensor& d_hn_in, const at::Tensor& d_cn_in,
                                 std::vector<bool> need) {
  const Cfg c = make_cfg(x, c0, w_hh, w_hr, extra, rd_mask, zh_mask, zoneout_h, zoneout_c, cifg, reverse, lengths);
  const int T = c.T, N = c.N, I = c.I, H = c.H, P = c.P, GH = c.GH;
  TORCH_CHECK(saved.size() == 11 && need.size() == 9, "bad saved/need");
  const at::Tensor d_out = pooled_contiguous(d_out_in), d_hn = pooled_contiguous(d_hn_in),
                   d_cn = pooled_contiguous(d_cn_in);
  auto opt = x.options();
  const int64_t NH = (int64_t)N * H, NG = (int64_t)N * GH, NP = (int64_t)N * P, R = (int64_t)T * N;
  at::Tensor dh = d_hn.clone(), dc = d_cn.clone();
  std::vector<at::Tensor> res(16);
  ErrorSlot err;
  PhaseTimer timer("lstmkit variant backward:");
  const float* GS = saved[0].data_ptr<float>();
  const float* CC = saved[1].data_ptr<float>();
  const float* CN = saved[2].data_ptr<float>();
  const float* HIN = saved[3].data_ptr<float>();
  const float* RB = fptr(saved[4]);
  const float* IH = fptr(saved[5]);
  const float* IRS = fptr(saved[6]);
  const float* AH = fptr(saved[7]);
  const float* ARS = fptr(saved[8]);
  const float* CH = fptr(saved[9]);
  const float* CRS = fptr(saved[10]);
  const float* Whh = w_hh.data_ptr<float>();
  const float* Whr = c.proj ? w_hr->data_ptr<float>() : nullptr;
  const float* WCI = (c.peep && !c.cifg) ? extra[0].data_ptr<float>() : nullptr;
  const float* WCF = c.peep ? extra[1].data_ptr<float>() : nullptr;
  const float* WCO = c.peep ? extra[2].data_ptr<float>() : nullptr;
  const float* GIH = c.ln ? extra[3].data_ptr<float>() : nullptr;
  const float* GHH = c.ln ? extra[5].data_ptr<float>() : nullptr;
  const float* GCL = c.ln ? extra[7].data_ptr<float>() : nullptr;
  const float* BCL = c.ln ? extra[8].data_ptr<float>() : nullptr;
  const float* M = c.rd ? rd_mask->data_ptr<float>() : nullptr;
  const bool* ZH = c.zo ? zh_mask->data_ptr<bool>() : nullptr;
  const bool* ZC = c.zo ? zc_mask->data_ptr<bool>() : nullptr;
  const int64_t* len = c.has_len ? lengths->data_ptr<int64_t>() : nullptr;
  const float* C0 = c0.data_ptr<float>();
  const float* DO = d_out.data_ptr<float>();

  // dG (gradient of the gate pre-activations): kept for the GEMMs after the loop without layer
  // norm (dA = dGX = dG); with layer norm only a row at a time (per-thread scratch) and the
  // loop writes dA (through LN_hh) and dGX (through LN_ih, when dx or dW_ih is needed).
  at::Tensor dG = c.ln ? at::Tensor() : pooled_empty({T, N, GH}, opt);
  at::Tensor dA = c.ln ? pooled_empty({T, N, GH}, opt) : dG;
  at::Tensor dGX = (c.ln && (need[0] || need[3])) ? pooled_empty({T, N, GH}, opt) : dG;
  at::Tensor dHN = c.proj ? pooled_empty({T, N, P}, opt) : at::Tensor();
  at::Tensor dR = c.proj ? at::empty({N, H}, opt) : at::Tensor();
  at::Tensor Q = M ? at::empty({N, P}, opt) : at::Tensor();
  // parameter-gradient accumulators, one per group of RG consecutive rows (RG fixed by N, so
  // the sums' order, and the result, do not depend on the thread count; a group's rows are
  // all done by one thread, in order): db | dghh (GH each) | dgc | dbc | dwci | dwcf | dwco
  // (H each) | dgih (GH).  Groups of up to 8 rows keep the accumulator a thread adds into
  // in L1 for 8 rows running, where one per row streamed (N, AW) through L2 at every step.
  const int64_t AW = 3 * (int64_t)GH + 5 * (int64_t)H;
  const int RG = std::max(1, std::min(8, N / 4)), NRG = (N + RG - 1) / RG;
  at::Tensor acc = at::zeros({NRG, AW}, opt);
  const std::vector<int> cq = col_chunks(P, std::min(256, std::max(64, P / 2)));  // dh columns
  const std::vector<int> cr = col_chunks(H, 128);  // dr columns (projection)
  const int ncq = (int)cq.size() - 1, ncr = c.proj ? (int)cr.size() - 1 : 0;
  std::vector<size_t> off(ncq + ncr + 1, 0);
  for (int k = 0; k < ncq; ++k) off[k + 1] = off[k] + (PackedB::bytes(N, cq[k + 1] - cq[k], GH) / 4 + 16) / 16 * 16;
  for (int k = 0; k < ncr; ++k)
    off[ncq + k + 1] = off[ncq + k] + (PackedB::bytes(N, cr[k + 1] - cr[k], P) / 4 + 16) / 16 * 16;
  at::Tensor pk_store = pooled_empty({(int64_t)std::max<size_t>(off.back(), 1)}, opt);
  std::vector<PackedB> pkq(ncq), pkr(std::max(ncr, 1));
  const int nthr = std::min(at::get_num_threads(), useful_threads(c, std::max(ncq, ncr)));
  at::Tensor scratch = at::empty({(int64_t)std::max(nthr, 1) * (3 * H + P + GH + 16)}, opt);
  float* DG = c.ln ? nullptr : dG.data_ptr<float>();
  float* DA = dA.data_ptr<float>();
  float* DGXW = c.ln && dGX.defined() ? dGX.data_ptr<float>() : nullptr;
  float* DHN = c.proj ? dHN.data_ptr<float>() : nullptr;
  float* DR = c.proj ? dR.data_ptr<float>() : nullptr;
  float* QB = M ? Q.data_ptr<float>() : nullptr;
  float* DH = dh.data_ptr<float>();
  float* DC = dc.data_ptr<float>();
  float* ACC = acc.data_ptr<float>();
  float* PK = pk_store.data_ptr<float>();
  float* SCR = scratch.data_ptr<float>();
  auto time_of = [&](int s) { return reverse ? T - 1 - s : s; };

  timer.lap("setup");
  LoopProf prof0b;
  if (T > 0 && N > 0 && H > 0)
  run_threads(nthr, [&](int tid, int nth) {
    LoopProf prof(timer, tid == 0);
    const int r0 = std::min(N, NRG * tid / nth * RG), r1 = std::min(N, NRG * (tid + 1) / nth * RG);
    const int kq0 = ncq * tid / nth, kq1 = ncq * (tid + 1) / nth;
    const int kr0 = ncr * tid / nth, kr1 = ncr * (tid + 1) / nth;
    float* sc = SCR + (int64_t)tid * (3 * H + P + GH + 16);
    float* dcn_r = sc;          // (H) dL/d LN_c(c_new) (or dL/d c_new)
    float* do_r = sc + H;       // (H) dL/d o
    float* dchat = sc + 2 * H;  // (H)
    float* dhn_r = sc + 3 * H;  // (P) dL/d h_new (no projection)
    float* dgrow = dhn_r + P;   // (GH) dG row (layer norm)
    for (int k = kq0; k < kq1; ++k) {
      const int w = cq[k + 1] - cq[k];
      pkq[k].pack(N, w, GH, Whh + cq[k], P, false, PackedB::bytes(N, w, GH) ? PK + off[k] : nullptr);
    }
    for (int k = kr0; k < kr1; ++k) {
      const int w = cr[k + 1] - cr[k];
      pkr[k].pack(N, w, P, Whr + cr[k], H, false, PackedB::bytes(N, w, P) ? PK + off[ncq + k] : nullptr);
    }
    prof.mark(0);
    for (int s = T - 1; s >= 0; --s) {
      const int t = time_of(s);
      const int tp = reverse ? t + 1 : t - 1;
      const float* Cprev = s == 0 ? C0 : CC + (int64_t)tp * NH;
      const float* DOt = DO + (int64_t)t * NP;
      if (c.proj) {  // Phase 1: dL/dh_new (saved for dW_hr) and the zoneout pass-through
        float* D = DHN + (int64_t)t * NP;
        for (int n = r0; n < r1; ++n) {
          const int64_t po = (int64_t)n * P;
          if (len && t >= len[n]) { std::memset(D + po, 0, sizeof(float) * P); continue; }
          if (c.zo) {
            zsplit(D + po, DH + po, DOt + po, ZH + (int64_t)t * NP + po, P);
          } else if (c.zx) {
            zsplit_blend(D + po, DH + po, DOt + po, c.pzh, P);
          } else {
            for (int j = 0; j < P; ++j) { D[po + j] = DH[po + j] + DOt[po + j]; DH[po + j] = 0.f; }
          }
        }
        barrier(nth);
        for (int k = kr0; k < kr1; ++k) {
          const int w = cr[k + 1] - cr[k];
          if (pkr[k].ready()) pkr[k].run(D, P, 0.f, DR + cr[k], H, &err);
          else gemm(false, false, N, w, P, D, P, Whr + cr[k], H, 0.f, DR + cr[k], H, &err);
        }
        barrier(nth);
      }
      prof.mark(1);
      // Phase 2: rows, pointwise backward
      for (int n = r0; n < r1; ++n) {
        const int64_t ro = (int64_t)t * N + n;
        float* dg = c.ln ? dgrow : DG + ro * GH;
        float* da = DA + ro * GH;
        if (len && t >= len[n]) {  // inactive: nothing flows into the step; dh, dc pass
          std::memset(da, 0, sizeof(float) * GH);
          if (DGXW) std::memset(DGXW + ro * GH, 0, sizeof(float) * GH);
          continue;
        }
        const int64_t po = (int64_t)n * P, so = (int64_t)n * H;
        const float* dr;
        if (c.proj) {
          dr = DR + so;
        } else {
          if (c.zo) {
            zsplit(dhn_r, DH + po, DOt + po, ZH + (int64_t)t * NP + po, P);
          } else if (c.zx) {
            zsplit_blend(dhn_r, DH + po, DOt + po, c.pzh, P);
          } else {
            for (int j = 0; j < P; ++j) { dhn_r[j] = DH[po + j] + DOt[po + j]; DH[po + j] = 0.f; }
          }
          dr = dhn_r;
        }
        const float* g = GS + ro * GH;
        const float* cnw = CN + ro * H;
        const float* cp = Cprev + so;
        const float* chs = CH ? CH + ro * H : nullptr;
        float* a = ACC + (int64_t)(n / RG) * AW;
        float* a_db = a;
        float* a_dghh = a + GH;
        float* a_dgc = a + 2 * GH;
        float* a_dbc = a_dgc + H;
        float* a_wci = a_dbc + H;
        float* a_wcf = a_wci + H;
        float* a_wco = a_wcf + H;
        float* a_dgih = a_wco + H;
        const int oi = c.cifg ? -1 : 0, of = c.cifg ? 0 : H, og = c.cifg ? H : 2 * H, oo = c.cifg ? 2 * H : 3 * H;
        // pass 1: through h = o * tanh(cn)
        for (int j = 0; j < H; j += VW) {
          const int m = std::min(VW, H - j);
          vf cn = ldn(cnw + j, m);
          if (c.ln) cn = ldn(GCL + j, m) * ldn(chs + j, m) + ldn(BCL + j, m);
          vf th = vtanh(cn);
          vf drv = ldn(dr + j, m), ov = ldn(g + oo + j, m);
          vf dcnv = drv * ov * (1.0f - th * th);
          stn(do_r + j, drv * th, m);
          if (c.ln) {
            vf xh = ldn(chs + j, m);
            stn(dchat + j, dcnv * ldn(GCL + j, m), m);
            stn(a_dgc + j, ldn(a_dgc + j, m) + dcnv * xh, m);
            stn(a_dbc + j, ldn(a_dbc + j, m) + dcnv, m);
          } else {
            stn(dcn_r + j, dcnv, m);
          }
        }
        if (c.ln) {  // through LN_c
          float s1, s2;
          row_sums2(dchat, chs, H, s1, s2);
          const float m1 = s1 / (float)H, m2 = s2 / (float)H, rs = CRS[ro];
          for (int j = 0; j < H; j += VW) {
            const int m = std::min(VW, H - j);
            stn(dcn_r + j, (ldn(dchat + j, m) - m1 - ldn(chs + j, m) * m2) * rs, m);
          }
        }
        // pass 2: c_new and the gates
        const bool* zc = c.zo ? ZC + (int64_t)t * NH + so : nullptr;
        if (zc) zkeep_split(dcn_r, DC + so, zc, H);  // the carried gradient reaches c_new only where not kept
        if (c.zx) zkeep_split_blend(dcn_r, DC + so, c.pzc, H);  // (1 - p) of it reaches c_new
        const bool split = zc || c.zx;  // DC then holds what passes straight to c_{t-1}
        for (int j = 0; j < H; j += VW) {
          const int m = std::min(VW, H - j);
          vf ov = ldn(g + oo + j, m), fg = ldn(g + of + j, m), gg = ldn(g + og + j, m);
          vf ig = c.cifg ? 1.0f - fg : ldn(g + oi + j, m);
          vf cpv = ldn(cp + j, m);
          vf dct = ldn(dcn_r + j, m);
          if (!split) dct += ldn(DC + so + j, m);
          vf dpo = ldn(do_r + j, m) * ov * (1.0f - ov);
          if (WCO) {
            dct += dpo * ldn(WCO + j, m);
            stn(a_wco + j, ldn(a_wco + j, m) + dpo * ldn(cnw + j, m), m);
          }
          vf df = dct * cpv;
          vf di = dct * gg;
          if (c.cifg) df -= di;
          vf dpf = df * fg * (1.0f - fg);
          vf dpg = dct * ig * (1.0f - gg * gg);
          vf dcp = dct * fg;
          if (split) dcp += ldn(DC + so + j, m);
          if (WCF) {
            dcp += dpf * ldn(WCF + j, m);
            stn(a_wcf + j, ldn(a_wcf + j, m) + dpf * cpv, m);
          }
          if (!c.cifg) {
            vf dpi = di * ig * (1.0f - ig);
            if (WCI) {
              dcp += dpi * ldn(WCI + j, m);
              stn(a_wci + j, ldn(a_wci + j, m) + dpi * cpv, m);
            }
            stn(dg + oi + j, dpi, m);
          }
          stn(dg + of + j, dpf, m);
          stn(dg + og + j, dpg, m);
          stn(dg + oo + j, dpo, m);
          stn(DC + so + j, dcp, m);
        }
        if (!c.ln) {
          for (int j = 0; j < GH; j += VW) {
            const int m = std::min(VW, GH - j);
            stn(a_db + j, ldn(a_db + j, m) + ldn(dg + j, m), m);
          }
        } else {
          // through LN_hh (-> da) and LN_ih (-> dgx), both in two passes over the row: sums
          // (and the parameter-gradient accumulators: db = d ln_hh bias = d ln_ih bias = sum dg),
          // then the outputs.  Partial vectors are zero-filled, so they add nothing to the sums.
          const float* ah = AH + ro * GH;
          const float* ih = IH + ro * GH;
          vf h1 = {}, h2 = {}, i1 = {}, i2 = {};
          for (int j = 0; j < GH; j += VW) {
            const int m = std::min(VW, GH - j);
            vf d = ldn(dg + j, m), av = ldn(ah + j, m), iv = ldn(ih + j, m);
            stn(a_db + j, ldn(a_db + j, m) + d, m);
            stn(a_dghh + j, ldn(a_dghh + j, m) + d * av, m);
            stn(a_dgih + j, ldn(a_dgih + j, m) + d * iv, m);
            vf th = d * ldn(GHH + j, m), ti = d * ldn(GIH + j, m);
            h1 += th;
            h2 += th * av;
            i1 += ti;
            i2 += ti * iv;
          }
          const float mh1 = hsum(h1) / (float)GH, mh2 = hsum(h2) / (float)GH, rh = ARS[ro];
          const float mi1 = hsum(i1) / (float)GH, mi2 = hsum(i2) / (float)GH, ri = IRS[ro];
          float* dx_ = DGXW ? DGXW + ro * GH : nullptr;
          for (int j = 0; j < GH; j += VW) {
            const int m = std::min(VW, GH - j);
            vf d = ldn(dg + j, m);
            stn(da + j, (d * ldn(GHH + j, m) - mh1 - ldn(ah + j, m) * mh2) * rh, m);
            if (dx_) stn_nt(dx_ + j, (d * ldn(GIH + j, m) - mi1 - ldn(ih + j, m) * mi2) * ri, m);
          }
        }
      }
      prof.mark(2);
      barrier(nth);
      prof.mark(3);
      // Phase 3: dh_{t-1}[:, chunk] (+)= (dA_t W_hh[:, chunk]) * m
      const float* DAt = DA + (int64_t)t * NG;
      for (int k = kq0; k < kq1; ++k) {
        const int p0 = cq[k], w = cq[k + 1] - cq[k];
        float* dst = M ? QB + p0 : DH + p0;
        const float beta = M ? 0.f : 1.f;
        if (pkq[k].ready()) pkq[k].run(DAt, GH, beta, dst, P, &err);
        else gemm(false, false, N, w, GH, DAt, GH, Whh + p0, P, beta, dst, P, &err);
        if (M)
          for (int n = 0; n < N; ++n)
            for (int j = 0; j < w; ++j) {
              const int64_t e = (int64_t)n * P + p0 + j;
              DH[e] += QB[e] * M[e];
            }
      }
      prof.mark(4);
      barrier(nth);
      prof.mark(5);
    }
    if (tid == 0) prof0b = prof;
#if LSTMKIT_STREAM_STORES
    _mm_sfence();  // the non-temporal dGX rows ordered before the weight-gradient products read them
#endif
  });
  prof0b.report(timer, {"t0:pack", "t0:proj_bar", "t0:rows", "t0:bar2", "t0:dh_gemm", "t0:bar3"});
  if (err.set) TORCH_CHECK(false, "lstmkit fused variant backward: ", err.msg);
  timer.lap("recurrence");
  res[1] = dh;
  res[2] = dc;
  // gradient of the input projection (dGX: through LN_ih, done in the loop, with layer norm)
  const bool need_lnih = c.ln && need[8];
  const float* DGX = (need[0] || need[3]) ? dGX.data_ptr<float>() : nullptr;
  if (need[0]) {
    res[0] = pooled_empty({T, N, I}, opt);
    big_gemm_rows(R, I, GH, DGX, GH, w_ih.data_ptr<float>(), I, false, res[0].data_ptr<float>(), I, &err);
  }
  timer.lap("dx");
  // weight gradients, summed over all T*N rows in order.  dW_ih, dW_hh: column chunks of
  // the (GH)-wide gradients, dW^T[:, chunk] = X^T dGX[:, chunk] (HIN^T dA) into a per-thread
  // scratch, then written transposed to the rows of dW; dW_hr: row chunks.
  const bool need_hr = c.proj && need[6];
  if (need[3]) res[3] = pooled_empty({GH, I}, opt);
  if (need[4]) res[4] = pooled_empty({GH, P}, opt);
  if (need_hr) res[6] = pooled_empty({P, H}, opt);
  const int kc = kColChunk;
  const int nw = (GH + kc - 1) / kc, nhr = need_hr ? (P + kc - 1) / kc : 0;
  const int nih = need[3] ? nw : 0, nhh = need[4] ? nw : 0;
  const int njobs = nih + nhh + nhr;
  const float* X = x.data_ptr<float>();
  // per thread: the chunk's result (scr_sz) and gemm_tn's transposed operand (tn_sz)
  const int64_t scr_sz = (int64_t)std::max(I, P) * kc, tn_sz = (int64_t)gemm_tn_scratch(std::max(I, P));
  at::Tensor wscr = njobs ? pooled_empty({chunk_threads(njobs) * (scr_sz + tn_sz)}, opt) : at::Tensor();
  std::vector<int64_t> iota(GH);
  for (int j = 0; j < GH; ++j) iota[j] = j;
  parallel_chunks_tid(njobs, [&](int64_t job, int tid) {
    int k = (int)job;
    if (k < nih + nhh) {
      const bool ih = k < nih;
      if (!ih) k -= nih;
      const int c0 = k * kc, cols = std::min(kc, GH - c0);
      const int K2 = ih ? I : P;
      float* C = wscr.data_ptr<float>() + tid * (scr_sz + tn_sz);
      gemm_tn(K2, cols, (int)R, ih ? X : HIN, K2, (ih ? DGX : DA) + c0, GH, 0.f, C, cols, C + scr_sz, &err);
      transpose_to_rows(C, cols, K2, cols, iota.data() + c0, res[ih ? 3 : 4].data_ptr<float>(), K2);
      return;
    }
    k -= nih + nhh;
    const int r0 = k * kc, rows = std::min(kc, P - r0);
    gemm_tn(rows, H, (int)R, DHN + r0, P, RB, H, 0.f, res[6].data_ptr<float>() + (int64_t)r0 * H, H,
            wscr.data_ptr<float>() + tid * (scr_sz + tn_sz) + scr_sz, &err);
  });
  if (err.set) TORCH_CHECK(false, "lstmkit fused variant backward: ", err.msg);
  timer.lap("dw");
  // the row groups' accumulators summed in order
  at::Tensor tot = at::zeros({AW}, opt);
  {
    float* S = tot.data_ptr<float>();
    for (int g = 0; g < NRG; ++g)
      for (int64_t j = 0; j < AW; ++j) S[j] += ACC[(int64_t)g * AW + j];
  }
  if (need[5] || need_lnih) res[5] = tot.narrow(0, 0, GH).clone();
  if (c.ln && need[8]) {
    res[10] = tot.narrow(0, 2 * GH + 5 * H, GH).clone();  // d ln_ih gain = sum dG * ihat
    res[11] = tot.narrow(0, 0, GH).clone();  // d ln_ih bias = sum dG
    res[12] = tot.narrow(0, GH, GH).clone();
    res[13] = tot.narrow(0, 0, GH).clone();  // d ln_hh bias = sum dG
    res[14] = tot.narrow(0, 2 * GH, H).clone();
    res[15] = tot.narrow(0, 2 * GH + H, H).clone();
  }
  timer.lap("acc_sums");
  if (c.peep && need[7]) {
    if (!c.cifg) res[7] = tot.narrow(0, 2 * GH + 2 * H, H).clone();
    res[8] = tot.narrow(0, 2 * GH + 3 * H, H).clone();
    res[9] = tot.narrow(0, 2 * GH + 4 * H, H).clone();
  }
  return res;
}

}  // namespace var
}  // namespace lstmkit

// The FP32 FMA peak of one core, measured: 12 independent vector accumulators (enough to keep
// both FMA pipes busy), the best of 5 runs on the thread's CPU time. For `lstmkit bench
// --peak-gflops` (README, Speed). Build and run:
//   cc -O3 -march=native -DW512 benchmarks/fma_peak.c -o /tmp/fma512 && /tmp/fma512   (AVX-512)
//   cc -O3 -march=x86-64-v3 benchmarks/fma_peak.c -o /tmp/fma256 && /tmp/fma256       (AVX2)
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(void) {
  const long iters = 200000000L;
#ifdef W512
  typedef __m512 V; const int lanes = 16;
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define SUM(v) _mm512_reduce_add_ps(v)
#else
  typedef __m256 V; const int lanes = 8;
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
  float tmp[8];
#define SUM(v) (_mm256_storeu_ps(tmp, v), tmp[0])
#endif
  V a[12]; V x = SET1(0.999999f), y = SET1(1e-7f);
  for (int i = 0; i < 12; ++i) a[i] = SET1((float)i);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = now();
    for (long k = 0; k < iters / 12; ++k)
      { a[0]=FMA(a[0],x,y); a[1]=FMA(a[1],x,y); a[2]=FMA(a[2],x,y); a[3]=FMA(a[3],x,y); a[4]=FMA(a[4],x,y); a[5]=FMA(a[5],x,y); a[6]=FMA(a[6],x,y); a[7]=FMA(a[7],x,y); a[8]=FMA(a[8],x,y); a[9]=FMA(a[9],x,y); a[10]=FMA(a[10],x,y); a[11]=FMA(a[11],x,y); }
    double dt = now() - t0;
    double gf = 2.0 * lanes * (iters / 12) * 12 / dt / 1e9;
    if (gf > best) best = gf;
  }
  float s = 0; for (int i = 0; i < 12; ++i) s += SUM(a[i]);
  printf("%.1f GFLOP/s per core (%d lanes) [%g]\n", best, lanes, s);
  return 0;
}

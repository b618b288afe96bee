"""A/B: torch.nn.LSTM vs orig kernel vs new kernel, same process, interleaved, 1 thread."""
import sys, time, statistics, argparse
sys.path.insert(0, '/tmp/lk')
import torch
ap = argparse.ArgumentParser()
ap.add_argument('--shapes', default='100,32,128;100,64,256;100,64,512;500,16,128')
ap.add_argument('--variants', default='plain,layer_norm')
ap.add_argument('--modes', default='train,infer')
ap.add_argument('--reps', type=int, default=21)
ap.add_argument('--threads', type=int, default=1)
ap.add_argument('--kernels', default='orig,new')
ap.add_argument('--cpu', action='store_true', help='thread CPU time instead of wall')
a = ap.parse_args()
torch.set_num_threads(a.threads)
import mods
import lstmkit, lstmkit.nn.fused.lstm as FL
from lstmkit.bench import _make, _torch_step, _fused_step, _module_step
clk = time.thread_time if a.cpu else time.perf_counter
kmods = {}
for k in a.kernels.split(','):
    kmods[k] = mods.get(k.split('+')[0])
    if k.endswith('+brg'): print('brgemm', kmods[k].set_brgemm(True))
    if k.endswith('+nopanel'): print('panels', kmods[k].set_panels(False))
def with_k(k, f):
    def g():
        FL.load = lambda *args, **kw: kmods[k]
        return f()
    return g
for mode in a.modes.split(','):
    train = mode == 'train'
    for sh in a.shapes.split(';'):
        T, B, H = map(int, sh.split(','))
        lstm, x, h0, c0 = _make(T, B, H)
        go = torch.randn(T, B, H)
        for v in a.variants.split(','):
            runs = {'torch': lambda: _torch_step(lstm, x, h0, c0, go, train)}
            if v == 'plain':
                for k in kmods: runs[k] = with_k(k, lambda: _fused_step(lstm, x, h0, c0, go, train))
            else:
                torch.manual_seed(1)
                ours = lstmkit.LSTM(H, H, **{v: True})
                for k in kmods: runs[k] = with_k(k, lambda: _module_step(ours, x, h0, c0, go, train))
            for f in runs.values():
                f(); f()
            names = list(runs); times = {k: [] for k in names}
            for r in range(a.reps):
                for k in (names if r % 2 == 0 else names[::-1]):
                    t0 = clk(); runs[k](); times[k].append((clk() - t0) * 1e3)
            med = {k: statistics.median(t) for k, t in times.items()}
            s = f"{mode:5} {T:4} {B:3} {H:4} {v:10} torch {med['torch']:8.2f} ms"
            for k in kmods: s += f" | {k} {med[k]:8.2f} ms {med['torch']/med[k]:5.2f}x"
            print(s, flush=True)

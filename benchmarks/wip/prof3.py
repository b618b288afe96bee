# alternate kernels (and torch) in one process; per-kernel per-phase medians of CPU time
import sys, os, re, statistics, collections, tempfile, time
sys.path.insert(0,'/tmp/lk'); os.environ.setdefault('LSTMKIT_FUSED_PROFILE','cpu')
import mods, torch, lstmkit
import lstmkit.nn.fused.lstm as FL
from lstmkit.bench import _make, _fused_step, _module_step, _torch_step
torch.set_num_threads(1)
kernels = sys.argv[1].split(','); variant = sys.argv[2]; train = sys.argv[3]=='train'
T,B,H = map(int, sys.argv[4].split(',')); reps = int(os.environ.get('N','11'))
km = {}
for k in kernels:
    km[k] = mods.get(k.split('+')[0])
    if k.endswith('+brg'): km[k].set_brgemm(True)
lstm,x,h0,c0 = _make(T,B,H); go=torch.randn(T,B,H)
ours = None if variant=='plain' else lstmkit.LSTM(H,H,**{variant:True})
def call(k):
    FL.load = lambda *a, **kw: km[k]
    if ours is None: _fused_step(lstm,x,h0,c0,go,train)
    else: _module_step(ours,x,h0,c0,go,train)
d = {k: collections.defaultdict(list) for k in kernels}; tt = collections.defaultdict(list)
tmp = tempfile.TemporaryFile(mode='w+')
saved = os.dup(2)
for r in range(reps + 2):
    order = kernels if r % 2 == 0 else kernels[::-1]
    t0 = time.thread_time(); _torch_step(lstm,x,h0,c0,go,train); 
    if r >= 2: tt['torch'].append((time.thread_time()-t0)*1e3)
    for k in order:
        tmp.seek(0); tmp.truncate(); sys.stderr.flush(); os.dup2(tmp.fileno(), 2)
        t0 = time.thread_time(); call(k); t1 = time.thread_time()
        os.dup2(saved, 2); tmp.seek(0); txt = tmp.read()
        if r < 2: continue
        d[k]['TOTAL'].append((t1-t0)*1e3)
        for line in txt.splitlines():
            head = line.split(':')[0].replace('lstmkit ','')[:4]
            for name, v in re.findall(r'(\S+)=([\d.]+)ms', line): d[k][head+'.'+name].append(float(v))
print('torch TOTAL=%.2f' % statistics.median(tt['torch']))
for k in kernels:
    print(k, ' '.join('%s=%.2f' % (n, statistics.median(v)) for n, v in d[k].items()))

"""Writes the .pth fixtures of @hpseg/core (checkpoint reader tests).

Run from the repo root:  /usr/bin/python3 tools/golden/core_make_pth.py
Outputs into packages/core/test/fixtures/:
  state_dict.pth     OrderedDict: float32 tensors of rank 0..4, float16, bfloat16, int64, int32,
                     uint8, bool, float64, and views sharing one storage (transpose, slice with offset)
  hp_ckpt.pth        an HP-style checkpoint: {'epoch', 'iter', 'best', 'net_model_state_dict',
                     'linear_model_state_dict', 'cluster_model_state_dict', 'optimizer': None}
  expected.json      every tensor of both files: shape, dtype, values (as float/int lists), and
                     the scalar entries of hp_ckpt.pth
  legacy.pth         state_dict.pth saved with _use_new_zipfile_serialization=False (refused)
  malicious.pth      a torch-style zip whose data.pkl calls os.system via GLOBAL + REDUCE (refused)
  unknown_opcode.pth a torch-style zip whose data.pkl holds an INST opcode and a non-opcode byte variant
  short_storage.pth  a tensor whose storage holds fewer elements than its shape needs (refused)
  numpy_scalar.pth   a dict holding numpy float64/int64 scalars (read as data)
  state_dict_p4.pth  state_dict.pth saved with pickle_protocol=4 (FRAME, MEMOIZE, STACK_GLOBAL, ...)
  values.pth, values_p4.pth
                     plain Python values (big and negative ints, floats, unicode, bytes, tuples,
                     nested lists, None, bools, int keys, torch.Size, a set, torch.device,
                     torch.float16) with protocols 2 and 4; expected in the test
  dino_train.pth     a DINO-training-style checkpoint: student/teacher with module./backbone. prefixes,
                     a real Adam optimizer state dict (int keys), epoch, dino_loss, args (argparse.Namespace)
  half.json          float32 inputs (ties, subnormals, overflow, NaN/Inf) and their float16 bits
                     (numpy astype, round to nearest even) and bfloat16 bits (torch .bfloat16())
"""
import collections
import io
import json
import os
import pickle
import zipfile

import numpy as np
import torch

torch.set_num_threads(1)
torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'core', 'test', 'fixtures')
os.makedirs(OUT, exist_ok=True)


def describe(t):
    t = t.detach()
    dtype = str(t.dtype).replace('torch.', '')
    if t.dtype in (torch.float16, torch.bfloat16):
        values = t.float().reshape(-1).tolist()
    elif t.dtype == torch.int64:
        values = [str(v) for v in t.reshape(-1).tolist()]  # exact, beyond 2^53
    elif t.dtype == torch.bool:
        values = [int(v) for v in t.reshape(-1).tolist()]
    else:
        values = t.reshape(-1).tolist()
    return {'shape': list(t.shape), 'dtype': dtype, 'values': values}


# ---- state_dict.pth -------------------------------------------------------------------------
base = torch.randn(4, 6)
sd = collections.OrderedDict()
sd['scalar'] = torch.tensor(3.5)
sd['vec'] = torch.randn(5)
sd['mat'] = base  # shares its storage with the two views below
sd['mat_t'] = base.t()  # non-contiguous: stride (1, 6)
sd['mat_slice'] = base[1:3, 2:5]  # storage offset 8, stride (6, 1)
sd['conv.weight'] = torch.randn(3, 2, 2, 2)
sd['block.0.attn.qkv.weight'] = torch.randn(6, 2)
sd['half'] = torch.randn(2, 3).half()
sd['bf16'] = torch.randn(3, 2).bfloat16()
sd['long'] = torch.tensor([0, -1, 2**40, -(2**62), 2**53 + 1], dtype=torch.int64)
sd['int32'] = torch.tensor([[1, -2], [3, 2**31 - 1]], dtype=torch.int32)
sd['uint8'] = torch.tensor([0, 7, 255], dtype=torch.uint8)
sd['bool'] = torch.tensor([True, False, True])
sd['double'] = torch.tensor([1.0 / 3.0, -2.5e-300], dtype=torch.float64)
sd['empty'] = torch.zeros(0, 3)
sd['expanded'] = torch.arange(3.0).reshape(3, 1).expand(3, 4)  # stride (1, 0)
sd['param'] = torch.nn.Parameter(torch.randn(2, 2))
torch.save(sd, os.path.join(OUT, 'state_dict.pth'))
torch.save(sd, os.path.join(OUT, 'legacy.pth'), _use_new_zipfile_serialization=False)
torch.save(sd, os.path.join(OUT, 'state_dict_p4.pth'), pickle_protocol=4)

values = {
    'ints': [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31, 2**53, 2**53 + 1, -2**63, 2**64, 10**30],
    'floats': [0.0, -1.5, 1e-300, float('inf')],
    'text': 'héllo ✓',
    'bytes': b'\x00\xffab',
    'tuple': (1, (2, 3), (), ('x',)),
    'nested': [[1, [2, [3]]], {'a': None, 'b': True, 'c': False}],
    3: 'int key',
    'size': torch.Size([2, 3]),
    'set': {7},
    'device': torch.device('cuda', 1),
    'dtype': torch.float16,
}
torch.save(values, os.path.join(OUT, 'values.pth'))
torch.save(values, os.path.join(OUT, 'values_p4.pth'), pickle_protocol=4)

# ---- hp_ckpt.pth (layout of hynnsk/HP utils/common_utils.py save_checkpoint) ----------------
net = collections.OrderedDict()
net['model.cls_token'] = torch.randn(1, 1, 4)
net['model.blocks.0.norm1.weight'] = torch.ones(4)
net['cluster1.0.weight'] = torch.randn(3, 4, 1, 1)
net['cluster1.0.bias'] = torch.randn(3)
net['ema_model1.0.weight'] = torch.randn(3, 4, 1, 1)
lin = collections.OrderedDict([('weight', torch.randn(2, 3, 1, 1)), ('bias', torch.zeros(2))])
clu = collections.OrderedDict([('clusters', torch.randn(2, 3))])
ckpt = {
    'epoch': 1,
    'iter': 120,
    'best': 61.25,
    'net_model_state_dict': net,
    'linear_model_state_dict': lin,
    'cluster_model_state_dict': clu,
    'optimizer': None,
    'name': 'hp',
}
torch.save(ckpt, os.path.join(OUT, 'hp_ckpt.pth'))

# ---- DINO training checkpoint layout (main_dino.py save_dict) --------------------------------
import argparse  # noqa: E402

student = torch.nn.Linear(3, 2)
opt = torch.optim.AdamW(student.parameters(), lr=5e-4)
student(torch.randn(4, 3)).sum().backward()
opt.step()
teacher_sd = collections.OrderedDict(
    ('backbone.' + k, v.detach().clone()) for k, v in student.state_dict().items())
torch.save({
    'student': collections.OrderedDict(('module.backbone.' + k, v) for k, v in student.state_dict().items()),
    'teacher': teacher_sd,
    'optimizer': opt.state_dict(),
    'epoch': 3,
    'args': argparse.Namespace(arch='vit_small', patch_size=8, lr=0.0005),
    'dino_loss': collections.OrderedDict([('center', torch.zeros(1, 5))]),
}, os.path.join(OUT, 'dino_train.pth'))
expected_dino_teacher = {k: describe(v) for k, v in teacher_sd.items()}

# ---- numpy scalars (training checkpoints sometimes hold metrics as numpy values) --------------
torch.save({'acc': np.float64(0.75), 'step': np.int64(-3), 'flag': np.bool_(True), 'f32': np.float32(1.5)},
           os.path.join(OUT, 'numpy_scalar.pth'))

expected = {
    'state_dict': {k: describe(v) for k, v in sd.items()},
    'hp_ckpt': {
        'net_model_state_dict': {k: describe(v) for k, v in net.items()},
        'linear_model_state_dict': {k: describe(v) for k, v in lin.items()},
        'cluster_model_state_dict': {k: describe(v) for k, v in clu.items()},
        'epoch': 1, 'iter': 120, 'best': 61.25, 'name': 'hp',
    },
    'dino_train_teacher': expected_dino_teacher,
    'numpy_scalar': {'acc': 0.75, 'step': -3, 'flag': True, 'f32': 1.5},
}
with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump(expected, f, indent=1)
    f.write('\n')


# ---- hostile files: a torch-style zip around a hand-made data.pkl ----------------------------
def torch_zip(path, data_pkl, storages=None):
    with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', data_pkl)
        z.writestr('archive/version', '3\n')
        for key, raw in (storages or {}).items():
            z.writestr('archive/data/' + key, raw)


class System:
    """Pickles as os.system('echo pwned'): GLOBAL 'os system' + REDUCE (never run here)."""

    def __reduce__(self):
        return (os.system, ('echo pwned',))


torch_zip(os.path.join(OUT, 'malicious.pth'), pickle.dumps({'weight': System()}, protocol=2))

# INST ('i'): protocol-0 class instantiation, outside the supported subset
torch_zip(os.path.join(OUT, 'unknown_opcode.pth'), b'\x80\x02(i__main__\nThing\n.')


# storage with 4 float32 elements, tensor of shape (2, 3): made by rewriting a real save's pid numel
class ShortPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, torch.storage.TypedStorage):
            return ('storage', torch.FloatStorage, '0', 'cpu', 4)
        return None


t = torch.arange(6.0).reshape(2, 3)
buf = io.BytesIO()
ShortPickler(buf, protocol=2).dump(collections.OrderedDict([('w', t)]))
torch_zip(os.path.join(OUT, 'short_storage.pth'), buf.getvalue(),
          {'0': np.arange(4, dtype='<f4').tobytes()})

# ---- half-precision conversion vectors ----------------------------------------------------
special = [0.0, -0.0, 1.0, -2.5, 65504.0, 65520.0, 65519.996, 1e6, -1e6, 6.1035156e-05, 6.0975552e-05,
           5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 1e-10, 1.0009765625, 1.00048828125, 1.00146484375,
           0.1, 3.14159265, 1.0 + 2**-8, 1.0 + 3 * 2**-9, 1.0 + 2**-9 + 2**-20]
rng = np.random.default_rng(0)
values = np.concatenate([np.array(special, dtype=np.float32),
                         (rng.standard_normal(200) * np.exp(rng.uniform(-20, 12, 200))).astype(np.float32),
                         np.array([np.inf, -np.inf], dtype=np.float32)])
f16_bits = values.astype(np.float16).view(np.uint16)
bf16_bits = torch.from_numpy(values).bfloat16().view(torch.int16).numpy().view(np.uint16)
with open(os.path.join(OUT, 'half.json'), 'w') as f:
    json.dump({'float32': [float(v) if np.isfinite(v) else str(v) for v in values],
               'float16_bits': f16_bits.tolist(), 'bfloat16_bits': bf16_bits.tolist()}, f)
    f.write('\n')

print('wrote', sorted(os.listdir(OUT)))

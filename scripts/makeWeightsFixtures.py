"""Writes the weights-only checkpoint fixtures in test/fixtures/weights/ with the real tools.

Run with Debian's Python (python3-torch 1.13, python3-numpy, python3-onnx, python3-sklearn):
    /usr/bin/python3 scripts/makeWeightsFixtures.py

For each network (a 64-32-10 MLP trained on sklearn's digits, and a small CNN with BatchNorm):
  NAME.pt              torch.save(state_dict)
  NAME.safetensors     written here by hand, following the safetensors spec
  NAME.npz             np.savez of the state dict (float32 arrays; MLP only)
  NAME.onnx            torch.onnx.export, opset 13, initializers named as the state-dict keys
  NAME.expected.json   4 inputs, PyTorch's float32 outputs (logits), and a digest of each tensor
  NAME.architecture.json  the layer list in Flatness Lens's "architecture/1" format
and mixed.safetensors / mixed.expected.json: F16, BF16, F64, I32, I64, U8, BOOL tensors.
"""
import gzip
import json
import os
import struct

import numpy as np
import onnx
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'weights')
DIGITS = '/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz'

SAFETENSORS_DTYPES = {
    torch.float64: 'F64', torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16',
    torch.int64: 'I64', torch.int32: 'I32', torch.int16: 'I16', torch.int8: 'I8',
    torch.uint8: 'U8', torch.bool: 'BOOL',
}


def digits():
    with gzip.open(DIGITS, 'rt') as f:
        rows = np.loadtxt(f, delimiter=',', dtype=np.float32)
    return torch.from_numpy(rows[:, :64] / 16.0), torch.from_numpy(rows[:, 64].astype(np.int64))


def train(model, x, y, steps):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return float(loss)


def tensor_bytes(t):
    """Raw little-endian bytes of a contiguous tensor, for any dtype (numpy lacks bfloat16)."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata):
    header = {'__metadata__': metadata}
    offset = 0
    blobs = []
    for name, t in tensors.items():
        data = tensor_bytes(t)
        header[name] = {'dtype': SAFETENSORS_DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)  # the reference implementation pads the header to 8 bytes
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def digest(t):
    """What the tests compare a reader against: shape, dtype, first values and the sum."""
    flat = t.detach().reshape(-1)
    as_float = flat.to(torch.float64)
    return {
        'shape': list(t.shape),
        'dtype': str(t.dtype).replace('torch.', ''),
        'first': [float(v) for v in as_float[:5]],
        'last': float(as_float[-1]) if flat.numel() else None,
        'sum': float(as_float.sum()),
    }


def export_onnx(model, example, path, state):
    torch.onnx.export(
        model, example, path, opset_version=13, input_names=['input'], output_names=['logits'],
        dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
        # Keep BatchNorm as its own node (no Conv fusion) so every initializer is a state-dict tensor.
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
    )
    graph = onnx.load(path).graph
    names = {init.name for init in graph.initializer}
    floats = {k for k, v in state.items() if v.is_floating_point()}
    assert names == floats, f'{path}: initializers {sorted(names)} differ from the state dict {sorted(floats)}'
    onnx.checker.check_model(onnx.load(path))


def write_json(path, value):
    with open(path, 'w') as f:
        json.dump(value, f, indent=1)
        f.write('\n')


def save_all(name, model, inputs, architecture, npz=False):
    model.eval()
    state = model.state_dict()
    with torch.no_grad():
        outputs = model(inputs)
    torch.save(state, os.path.join(OUT, f'{name}.pt'))
    write_safetensors(os.path.join(OUT, f'{name}.safetensors'), state, {'format': 'pt', 'source': 'makeWeightsFixtures.py'})
    if npz:
        np.savez(os.path.join(OUT, f'{name}.npz'), **{k: v.numpy().astype(np.float32) for k, v in state.items()})
    export_onnx(model, inputs, os.path.join(OUT, f'{name}.onnx'), state)
    write_json(os.path.join(OUT, f'{name}.expected.json'), {
        'inputShape': list(inputs.shape),
        'inputs': [float(v) for v in inputs.reshape(-1)],
        'outputShape': list(outputs.shape),
        'outputs': [float(v) for v in outputs.reshape(-1)],
        'tensors': {k: digest(v) for k, v in state.items()},
    })
    write_json(os.path.join(OUT, f'{name}.architecture.json'), architecture)


def make_mlp(x, y):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    train(model, x, y, 300)
    save_all('mlp', model, x[:4], {
        'flatnessLens': 'architecture/1', 'framework': 'pytorch', 'input': [64],
        'layers': [
            {'type': 'linear', 'weight': '0.weight', 'bias': '0.bias'},
            {'type': 'relu'},
            {'type': 'linear', 'weight': '2.weight', 'bias': '2.bias'},
        ],
        'loss': 'ce',
    }, npz=True)


def make_cnn(x, y):
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))
    images = x.reshape(-1, 1, 8, 8)
    model.train()
    train(model, images, y, 200)  # training mode moves the running statistics away from 0 and 1
    assert not torch.allclose(model[1].running_mean, torch.zeros(4)) and int(model[1].num_batches_tracked) == 200
    save_all('cnn', model, images[:4], {
        'flatnessLens': 'architecture/1', 'framework': 'pytorch', 'input': [1, 8, 8],
        'layers': [
            {'type': 'conv2d', 'weight': '0.weight', 'bias': '0.bias', 'stride': 1, 'padding': 1},
            {'type': 'batchnorm2d', 'weight': '1.weight', 'bias': '1.bias', 'running_mean': '1.running_mean', 'running_var': '1.running_var', 'eps': 1e-5},
            {'type': 'relu'},
            {'type': 'maxpool2d', 'kernel': 2, 'stride': 2},
            {'type': 'flatten'},
            {'type': 'linear', 'weight': '5.weight', 'bias': '5.bias'},
        ],
        'loss': 'ce',
    })


def make_mixed():
    """One tensor per safetensors dtype the readers convert or skip, with values exact in each."""
    base = torch.tensor([[0.5, -1.25, 3.0], [1e-3, 65504.0, -0.0]], dtype=torch.float32)
    tensors = {
        'half': base.to(torch.float16),
        'brain': base.to(torch.bfloat16),
        'double': base.to(torch.float64) / 3,
        'count': torch.tensor([7, -2, 2**40], dtype=torch.int64),
        'index': torch.tensor([1, 2], dtype=torch.int32),
        'bytes': torch.tensor([0, 255, 3], dtype=torch.uint8),
        'mask': torch.tensor([True, False, True]),
    }
    write_safetensors(os.path.join(OUT, 'mixed.safetensors'), tensors, {'note': 'dtype coverage'})
    write_json(os.path.join(OUT, 'mixed.expected.json'), {
        name: {
            'dtype': SAFETENSORS_DTYPES[t.dtype],
            'shape': list(t.shape),
            # What a float32 reader must produce; integer tensors carry no float values.
            'values': [float(v) for v in t.to(torch.float32).reshape(-1)] if t.is_floating_point() else None,
        }
        for name, t in tensors.items()
    })


def main():
    os.makedirs(OUT, exist_ok=True)
    x, y = digits()
    make_mlp(x, y)
    make_cnn(x, y)
    make_mixed()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f'wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}')


if __name__ == '__main__':
    main()

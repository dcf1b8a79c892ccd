#!/usr/bin/python3
"""Makes the ONNX test fixtures under test/fixtures/onnx/ with the real exporter.

Run with Debian's python3-torch (1.13, offline):  /usr/bin/python3 scripts/makeOnnxFixtures.py
For each tiny model (fixed seeds) it writes <name>.onnx (torch.onnx.export, opset 13) and
<name>.json: {"inputShape": [N, ...] (PyTorch layout, NCHW for images), "inputs": [...],
"outputs": [...], "outputShape": [...]}, values flattened row-major, outputs computed in float64
from the same float32 weights. For the MLP it also writes the same weights as a TF.js Layers model
(mlp.tfjs.json + mlp.tfjs.weights.bin), so a test can compare the two formats.
The depthwise, concat and pool models cover the remaining mapped operators and the export patterns
that compute shapes and paddings in the graph: x.view(x.size(0), -1) and x.reshape(x.shape[0], -1)
(Shape -> Gather -> Unsqueeze -> Concat -> Reshape), nn.ZeroPad2d (Pad with pads computed by
Mul/Sub/ConstantOfShape/Concat/Reshape/Slice/Transpose) and AvgPool2d with padding (Pad + AveragePool).
"""
import json
import os
import struct

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'onnx')


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(8, 4)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        return self.softmax(self.fc2(self.relu(self.fc1(x))))


class Cnn(nn.Module):
    """Conv-ReLU-MaxPool-Flatten-Linear: the Linear's rows are in CHW order."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, kernel_size=3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(3 * 3 * 3, 5)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.relu(self.conv(x)))))


class ConvBn(nn.Module):
    """Conv-BatchNorm-ReLU-GlobalAveragePool-Linear, with a strided, padded conv."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.relu(self.bn(self.conv(x))))))


class Leaky(nn.Module):
    """Linear-LeakyReLU-Linear-LeakyReLU-(x @ W + b): the last layer exports as MatMul + Add."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(5, 7), nn.LeakyReLU(0.1), nn.Linear(7, 6), nn.LeakyReLU(0.2))
        self.w = nn.Parameter(torch.zeros(6, 2))
        self.b = nn.Parameter(torch.zeros(2))

    def forward(self, x):
        return self.net(x) @ self.w + self.b


class Depthwise(nn.Module):
    """Conv-ReLU-depthwise Conv (groups = channels, multiplier 2, padding 2: explicit pads)-PReLU per
    channel-AvgPool-x.view(x.size(0), -1)-Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
        self.relu = nn.ReLU()
        self.depthwise = nn.Conv2d(4, 8, kernel_size=3, padding=2, groups=4)
        self.prelu = nn.PReLU(8)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = self.pool(self.prelu(self.depthwise(self.relu(self.conv(x)))))
        return self.fc(x.view(x.size(0), -1))


class Concat(nn.Module):
    """Two branches (Conv-ELU, 1x1 Conv-ReLU) concatenated along channels, AvgPool2d(3, padding 1)
    counting the zero padding (exported as Pad + AveragePool), ZeroPad2d, Conv, torch.flatten,
    Linear, PReLU with one slope, Linear."""

    def __init__(self):
        super().__init__()
        self.left = nn.Conv2d(2, 3, kernel_size=3, padding=1)
        self.elu = nn.ELU(alpha=0.7)
        self.right = nn.Conv2d(2, 2, kernel_size=1)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(3, stride=1, padding=1)
        self.pad = nn.ZeroPad2d((1, 0, 0, 1))
        self.conv = nn.Conv2d(5, 4, kernel_size=2)
        self.fc1 = nn.Linear(4 * 5 * 5, 6)
        self.prelu = nn.PReLU()
        self.fc2 = nn.Linear(6, 3)

    def forward(self, x):
        x = torch.cat([self.elu(self.left(x)), self.relu(self.right(x))], dim=1)
        x = self.conv(self.pad(self.pool(x)))
        return self.fc2(self.prelu(self.fc1(torch.flatten(x, 1))))


class Pool(nn.Module):
    """Conv-ELU-AvgPool2d(2)-AvgPool2d(3, padding 1, not counting the padding)-x.reshape(x.shape[0], -1),
    then two Linear-ReLU branches concatenated along features, Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
        self.elu = nn.ELU()
        self.pool = nn.AvgPool2d(2)
        self.smooth = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.fa = nn.Linear(4 * 4 * 4, 5)
        self.fb = nn.Linear(4 * 4 * 4, 3)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = self.smooth(self.pool(self.elu(self.conv(x))))
        x = x.reshape(x.shape[0], -1)
        return self.fc(torch.cat([self.relu(self.fa(x)), self.relu(self.fb(x))], dim=1))


def randomize_batchnorm(model):
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            module.running_mean.copy_(torch.randn(c) * 0.5)
            module.running_var.copy_(torch.rand(c) + 0.5)
            module.weight.data.copy_(torch.rand(c) + 0.5)
            module.bias.data.copy_(torch.randn(c) * 0.3)


def export(name, model, input_shape, seed):
    torch.manual_seed(seed)
    for p in model.parameters():
        p.data.copy_(torch.randn_like(p) * 0.5)
    with torch.no_grad():
        randomize_batchnorm(model)
    model.eval()
    x = torch.randn(*input_shape)
    path = os.path.join(OUT, name + '.onnx')
    if os.path.exists(path):
        os.remove(path)
    torch.onnx.export(
        model, (x,), path, opset_version=13, input_names=['input'], output_names=['output'],
        dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}},
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
    )
    with torch.no_grad():
        y = model.double()(x.double())
    model.float()
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump({
            'inputShape': list(x.shape), 'inputs': [float(v) for v in x.flatten()],
            'outputShape': list(y.shape), 'outputs': [float(v) for v in y.flatten()],
        }, f)
        f.write('\n')
    return model


def write_tfjs_mlp(model):
    """The MLP's weights as a TF.js Layers model: Dense kernels are [in, out] (Linear.weight transposed)."""
    layers, manifest, blob = [], [], b''
    linears = [model.fc1, model.fc2]
    for i, linear in enumerate(linears):
        name = 'dense_%d' % (i + 1)
        config = {'name': name, 'trainable': True, 'dtype': 'float32', 'units': linear.out_features,
                  'activation': 'softmax' if i == len(linears) - 1 else 'relu', 'use_bias': True}
        if i == 0:
            config['batch_input_shape'] = [None, linear.in_features]
        layers.append({'class_name': 'Dense', 'config': config})
        kernel = linear.weight.detach().t().contiguous().flatten().tolist()
        bias = linear.bias.detach().flatten().tolist()
        manifest.append({'name': name + '/kernel', 'shape': [linear.in_features, linear.out_features], 'dtype': 'float32'})
        manifest.append({'name': name + '/bias', 'shape': [linear.out_features], 'dtype': 'float32'})
        blob += struct.pack('<%df' % len(kernel), *kernel) + struct.pack('<%df' % len(bias), *bias)
    model_json = {
        'format': 'layers-model', 'generatedBy': 'scripts/makeOnnxFixtures.py', 'convertedBy': None,
        'modelTopology': {'class_name': 'Sequential', 'config': {'name': 'sequential', 'layers': layers}},
        'weightsManifest': [{'paths': ['mlp.tfjs.weights.bin'], 'weights': manifest}],
    }
    with open(os.path.join(OUT, 'mlp.tfjs.weights.bin'), 'wb') as f:
        f.write(blob)
    with open(os.path.join(OUT, 'mlp.tfjs.json'), 'w') as f:
        json.dump(model_json, f, indent=1)
        f.write('\n')


def main():
    os.makedirs(OUT, exist_ok=True)
    mlp = export('mlp', Mlp(), (5, 6), seed=1)
    write_tfjs_mlp(mlp)
    export('cnn', Cnn(), (3, 2, 6, 6), seed=2)
    export('convbn', ConvBn(), (3, 3, 7, 7), seed=3)
    export('leaky', Leaky(), (4, 5), seed=4)
    export('depthwise', Depthwise(), (3, 3, 6, 6), seed=5)
    export('concat', Concat(), (3, 2, 5, 5), seed=6)
    export('pool', Pool(), (3, 3, 8, 8), seed=7)


if __name__ == '__main__':
    main()

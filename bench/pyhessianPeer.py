"""PyHessian's default Hessian metrics in PyTorch, as the benchmark's peer (`npm run bench`).

Implements, from their published description (Yao, Gholami, Keutzer & Mahoney 2020, and the
defaults of the PyHessian package): the top eigenvalue by power iteration (maxIter 100, stop when
the relative change of the Rayleigh quotient is below 1e-3), the trace by Hutchinson's method
with Rademacher probes (maxIter 100, stop when the relative change of the running mean is below
1e-3) and the spectral density by stochastic Lanczos quadrature (100 steps from one Rademacher
start, full reorthogonalization; timed on its own). float32, one batch, the gradient's graph built once and reused for every Hessian-vector
product. Reads the networks the benchmark saves (TF.js Layers model.json + weights, Dense /
Conv2D / MaxPooling2D / Flatten) and its data (.npz with x, y).

  python3 bench/pyhessianPeer.py peer --model DIR --data DIR/data.npz --threads T [--seed S] [--density]
  python3 bench/pyhessianPeer.py exact --model DIR --data DIR/data.npz   (float64 Hessian trace)

Prints one JSON line.
"""
import argparse
import json
import os
import sys
import time

# OpenBLAS's thread pool ignores torch.set_num_threads: it is sized from the environment at import.
if "--threads" in sys.argv:
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import numpy as np
import torch
import torch.nn.functional as F


def read_layers_model(folder):
    """The layers and the flat weights of a TF.js Layers model.json (as float64 arrays)."""
    with open(os.path.join(folder, 'model.json')) as f:
        model = json.load(f)
    config = model['modelTopology']['config']
    layers = config['layers'] if isinstance(config, dict) else config
    blob = b''
    for group in model['weightsManifest']:
        for name in group['paths']:
            with open(os.path.join(folder, name), 'rb') as f:
                blob += f.read()
    weights, offset = [], 0
    for group in model['weightsManifest']:
        for w in group['weights']:
            size = int(np.prod(w['shape'])) if w['shape'] else 1
            weights.append(np.frombuffer(blob, '<f4', size, offset).reshape(w['shape']).astype(np.float64))
            offset += 4 * size
    return layers, weights


class LayersNetwork:
    """The network as a function of one flat parameter vector (Keras layouts: NHWC, HWIO kernels)."""

    def __init__(self, layers, weights):
        self.layers = layers
        self.shapes = [w.shape for w in weights]
        self.theta0 = np.concatenate([w.reshape(-1) for w in weights])

    def unflatten(self, theta):
        out, offset = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape)) if shape else 1
            out.append(theta[offset:offset + size].reshape(shape))
            offset += size
        return out

    def logits(self, theta, x):
        weights = iter(self.unflatten(theta))
        h = x
        for layer in self.layers:
            kind, config = layer['class_name'], layer['config']
            activation = config.get('activation', 'linear')
            if kind == 'Dense':
                h = h @ next(weights)
                if config.get('use_bias', True):
                    h = h + next(weights)
            elif kind == 'Conv2D':
                if config.get('padding', 'valid') != 'same' or list(config.get('strides', [1, 1])) != [1, 1]:
                    raise SystemExit('only stride-1 "same" convolutions are read')
                kernel = next(weights).permute(3, 2, 0, 1)
                h = F.conv2d(h.permute(0, 3, 1, 2), kernel, padding='same').permute(0, 2, 3, 1)
                if config.get('use_bias', True):
                    h = h + next(weights)
            elif kind == 'MaxPooling2D':
                h = F.max_pool2d(h.permute(0, 3, 1, 2), config.get('pool_size', [2, 2])).permute(0, 2, 3, 1)
                activation = 'linear'
            elif kind == 'Flatten':
                h = h.reshape(h.shape[0], -1)
                activation = 'linear'
            else:
                raise SystemExit(f'layer {kind} is not read')
            if activation == 'relu':
                h = torch.relu(h)
            elif activation == 'tanh':
                h = torch.tanh(h)
            elif activation not in ('linear', 'softmax'):
                raise SystemExit(f'activation {activation} is not read')
        # The last layer's softmax is folded into the cross-entropy.
        return h


def load(args, dtype):
    layers, weights = read_layers_model(args.model)
    network = LayersNetwork(layers, weights)
    data = np.load(args.data)
    x = torch.as_tensor(data['x'], dtype=dtype)
    y = torch.as_tensor(data['y'].astype(np.int64))
    theta = torch.as_tensor(network.theta0, dtype=dtype)
    return network, x, y, theta


def peer(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    network, x, y, theta = load(args, torch.float32)
    theta.requires_grad_(True)
    started = time.time()
    loss = F.cross_entropy(network.logits(theta, x), y)
    (gradient,) = torch.autograd.grad(loss, theta, create_graph=True)
    graph_done = time.time()

    def hvp(v):
        return torch.autograd.grad(gradient, theta, v, retain_graph=True)[0]

    # Power iteration (PyHessian eigenvalues(maxIter=100, tol=1e-3, top_n=1)).
    v = torch.randn_like(theta)
    v = v / v.norm()
    eigenvalue, iterations = None, 0
    for iterations in range(1, 101):
        hv = hvp(v)
        value = float(hv @ v)
        v = hv / hv.norm()
        if eigenvalue is not None and abs(value - eigenvalue) / (abs(eigenvalue) + 1e-6) < 1e-3:
            eigenvalue = value
            break
        eigenvalue = value
    eigen_done = time.time()
    # Hutchinson (PyHessian trace(maxIter=100, tol=1e-3)).
    samples, trace = [], 0.0
    for _ in range(100):
        z = torch.randint_like(theta, high=2) * 2 - 1
        samples.append(float(hvp(z) @ z))
        mean = float(np.mean(samples))
        if abs(mean - trace) / (abs(trace) + 1e-6) < 1e-3:
            trace = mean
            break
        trace = mean
    done = time.time()
    # Spectral density (PyHessian density(iter=100, n_v=1)): stochastic Lanczos quadrature from one
    # Rademacher start, each new vector orthogonalized against every earlier one.
    nodes, weights, density_hvps = density(hvp, theta, steps=100) if args.density else ([], [], 0)
    density_done = time.time()
    print(json.dumps({
        'topEigenvalue': eigenvalue, 'powerIterations': iterations, 'trace': trace, 'traceSamples': len(samples),
        'hvps': iterations + len(samples), 'seconds': done - started, 'secondsEigen': eigen_done - started,
        'secondsTrace': done - eigen_done, 'secondsPerHvp': (done - graph_done) / (iterations + len(samples)), 'threads': args.threads, 'seed': args.seed,
        **({'densityHvps': density_hvps, 'secondsDensity': density_done - done, 'densityNodes': len(nodes)} if args.density else {}),
    }))


def density(hvp, theta, steps):
    """PyHessian's Lanczos for the density, on the flat parameter vector: Ritz values and weights."""
    with torch.no_grad():
        v = torch.randint_like(theta, high=2) * 2 - 1
        v = v / v.norm()
    basis, alphas, betas, hvps = [v], [], [], 0
    w = None
    for i in range(steps):
        if i > 0:
            beta = float(w.norm())
            betas.append(beta)
            with torch.no_grad():
                if beta == 0.0:
                    w = torch.randn_like(theta)
                for q in basis:
                    w = w - (w @ q) * q
                v = w / w.norm()
            basis.append(v)
        product = hvp(v).detach()
        hvps += 1
        alpha = float(product @ v)
        alphas.append(alpha)
        with torch.no_grad():
            w = product - alpha * v if i == 0 else product - alpha * v - betas[-1] * basis[-2]
    tridiagonal = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
    values, vectors = np.linalg.eigh(tridiagonal)
    return values, vectors[0, :] ** 2, hvps


def exact(args):
    network, x, y, theta = load(args, torch.float64)
    hessian = torch.autograd.functional.hessian(lambda t: F.cross_entropy(network.logits(t, x), y), theta)
    print(json.dumps({'trace': float(torch.diagonal(hessian).sum()), 'parameters': int(theta.numel())}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('command', choices=['peer', 'exact'])
    parser.add_argument('--model', required=True)
    parser.add_argument('--data', required=True)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--density', action='store_true', help='also the spectral density, timed on its own')
    args = parser.parse_args()
    (peer if args.command == 'peer' else exact)(args)


if __name__ == '__main__':
    main()

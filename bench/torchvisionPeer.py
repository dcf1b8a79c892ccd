"""torchvision's ResNet-18 for `npm run bench` (Debian's python3-torch and python3-torchvision).

  export --out FILE.onnx
      ResNet-18 (random init, seed 0, num_classes=10, eval mode) exported at opset 17 for
      3x32x32 inputs, as a user would.
  hvp --batch N --threads T --repeats R
      PyTorch's Hessian-vector product of the mean cross-entropy on that network (float32, eval
      mode, N seeded random 32x32 images) at T threads. Prints JSON: the median time (R products
      after 2 warm-ups) of one product
      from scratch (forward, backward with create_graph, double backward) and of one product that
      reuses the gradient's graph (PyHessian's way), and the process's peak resident memory.
"""
import argparse
import json
import os
import resource
import sys
import time

if "--threads" in sys.argv:
    _threads = sys.argv[sys.argv.index("--threads") + 1]
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _threads

import torch
import torch.nn.functional as F
import torchvision


def network():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


def export(args):
    model = network()
    torch.onnx.export(model, torch.zeros(1, 3, 32, 32), args.out, opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    print(json.dumps({"out": args.out, "parameters": sum(p.numel() for p in model.parameters())}))


# Products timed before the median: both engines settle their memory in the first two.
WARM_UPS = 2


def peak_resident_mb():
    """VmHWM (this address space's high-water mark): ru_maxrss also counts the parent's memory at the fork."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def hvp(args):
    torch.set_num_threads(args.threads)
    model = network()
    params = [p for p in model.parameters() if p.requires_grad]
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(args.batch, 3, 32, 32, generator=generator)
    y = torch.randint(0, 10, (args.batch,), generator=generator)
    v = [torch.randn(p.shape, generator=generator) for p in params]

    def gradient():
        return torch.autograd.grad(F.cross_entropy(model(x), y), params, create_graph=True)

    def from_scratch():
        return torch.autograd.grad(gradient(), params, grad_outputs=v)

    fresh = []
    for _ in range(args.repeats + WARM_UPS):
        t0 = time.perf_counter()
        from_scratch()
        fresh.append(time.perf_counter() - t0)
    grads = gradient()
    reused = []
    for _ in range(args.repeats + WARM_UPS):
        t0 = time.perf_counter()
        torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        reused.append(time.perf_counter() - t0)
    print(json.dumps({
        "threads": args.threads, "batch": args.batch,
        "hvpMs": 1000 * median(fresh[WARM_UPS:]), "hvpReusingGraphMs": 1000 * median(reused[WARM_UPS:]),
        "peakRssMb": peak_resident_mb(),
        "torch": torch.__version__,
    }))


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    e = commands.add_parser("export")
    e.add_argument("--out", required=True)
    h = commands.add_parser("hvp")
    h.add_argument("--batch", type=int, default=32)
    h.add_argument("--threads", type=int, default=1)
    h.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    {"export": export, "hvp": hvp}[args.command](args)


if __name__ == "__main__":
    main()

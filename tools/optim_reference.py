#!/usr/bin/python3
"""Reference trajectories for minidl's optimizers: tests/data/optim_reference.json.

Every optimizer runs in float64 on one fixed problem: two parameter tensors of shapes [3, 4] and
[5] with given initial values, fed a fixed sequence of gradients from closed formulas (no random
numbers; at step 3 the second tensor gets no gradient, so the two tensors' step counts differ).
The parameters after every step are recorded, for several hyper-parameter settings per optimizer.
tests/test_optim.cpp replays each case with minidl and requires agreement to ~1e-10 relative.

Those torch.optim has run through torch.optim itself (Debian's python3-torch). Lion and LAMB,
which it lacks, run through the small numpy implementations below, written from the papers'
update rules:
  Lion: Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2.
  LAMB: You et al. 2019, "Large Batch Optimization for Deep Learning", Algorithm 2 (phi = identity).

Run from the repository root, as the output's "command" field says; the output is committed.
"""

import argparse
import json
import os

import numpy as np
import torch

COMMAND = "/usr/bin/python3 tools/optim_reference.py"
SHAPES = [(3, 4), (5,)]
STEPS = 8
SKIPPED = (2, 1)  # (step index, tensor index): no gradient there


def initial_values():
    w = [((k * 5) % 9 - 4) * 0.25 + 0.1 for k in range(12)]
    b = [0.3, -0.2, 0.0, 1.1, -0.7]
    return [w, b]


def gradient(step, tensor, numel):
    """Gradients with both signs, exact zeros (Lion's sign, Adamax's |g|) and a magnitude that
    changes from step to step (AMSGrad's maximum)."""
    scale = 0.2 * (1 + 0.5 * np.cos(1.7 * step)) * (1 if tensor == 0 else 1.5)
    return [(((k * 7 + step * 3 + tensor) % 11) - 5) * scale for k in range(numel)]


def gradients():
    sizes = [int(np.prod(s)) for s in SHAPES]
    return [[None if (step, t) == SKIPPED else gradient(step, t, sizes[t]) for t in range(len(SHAPES))]
            for step in range(STEPS)]


# ---- torch.optim

TORCH = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
    "rmsprop": torch.optim.RMSprop,
    "adamax": torch.optim.Adamax,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
}


def torch_kwargs(name, settings):
    kwargs = {k: v for k, v in settings.items() if k not in ("beta1", "beta2")}
    if "beta1" in settings or "beta2" in settings:  # torch's default betas are (0.9, 0.999) throughout
        kwargs["betas"] = (settings.get("beta1", 0.9), settings.get("beta2", 0.999))
    # torch 1.13's single-tensor NAdam multiplies mu_t into prod(mu_1..mu_{t+1}) twice (fixed upstream
    # in pytorch/pytorch#92699); its foreach implementation follows the documented formula.
    kwargs["foreach"] = name == "nadam"
    return kwargs


def run_torch(name, settings, start, grads):
    params = [torch.nn.Parameter(torch.tensor(v, dtype=torch.float64).reshape(s)) for v, s in zip(start, SHAPES)]
    opt = TORCH[name](params, **torch_kwargs(name, settings))
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(g, dtype=torch.float64).reshape(p.shape)
        opt.step()
        trajectory.append([p.detach().reshape(-1).tolist() for p in params])
    return trajectory


# ---- numpy, from the papers


def run_lion(settings, start, grads):
    lr, wd = settings.get("lr", 1e-4), settings.get("weight_decay", 0.0)
    beta1, beta2 = settings.get("beta1", 0.9), settings.get("beta2", 0.99)
    params = [np.array(v, dtype=np.float64) for v in start]
    m = [np.zeros_like(p) for p in params]
    trajectory = []
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            if g is None:
                continue
            g = np.array(g, dtype=np.float64)
            update = np.sign(beta1 * m[i] + (1 - beta1) * g)
            params[i] = params[i] - lr * (update + wd * params[i])
            m[i] = beta2 * m[i] + (1 - beta2) * g
        trajectory.append([p.tolist() for p in params])
    return trajectory


def run_lamb(settings, start, grads):
    lr, wd, eps = settings.get("lr", 1e-3), settings.get("weight_decay", 0.0), settings.get("eps", 1e-6)
    beta1, beta2 = settings.get("beta1", 0.9), settings.get("beta2", 0.999)
    params = [np.array(v, dtype=np.float64) for v in start]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    steps = [0 for _ in params]
    trajectory = []
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            if g is None:
                continue
            g = np.array(g, dtype=np.float64)
            steps[i] += 1
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            m_hat = m[i] / (1 - beta1 ** steps[i])
            v_hat = v[i] / (1 - beta2 ** steps[i])
            r = m_hat / (np.sqrt(v_hat) + eps) + wd * params[i]
            param_norm, r_norm = np.linalg.norm(params[i]), np.linalg.norm(r)
            trust = param_norm / r_norm if param_norm > 0 and r_norm > 0 else 1.0
            params[i] = params[i] - lr * trust * r
        trajectory.append([p.tolist() for p in params])
    return trajectory


NUMPY = {"lion": run_lion, "lamb": run_lamb}

# Several settings per optimizer: the defaults (SGD has no default lr in torch), weight decay,
# momentum / Nesterov, AMSGrad, centered, the less common options. Keys are the C++ options' names.
CASES = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("sgd", {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("adam", {}),
    ("adam", {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.1}),
    ("adam", {"lr": 0.05, "amsgrad": True}),
    ("adam", {"lr": 0.05, "beta2": 0.9, "amsgrad": True, "weight_decay": 0.05}),
    ("adamw", {}),
    ("adamw", {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.05, "beta2": 0.9, "amsgrad": True, "weight_decay": 0.05}),
    ("adagrad", {}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("adadelta", {}),
    ("adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1}),
    ("rmsprop", {}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.8}),
    ("rmsprop", {"lr": 0.01, "centered": True}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.95, "eps": 1e-6, "weight_decay": 0.1, "momentum": 0.5, "centered": True}),
    ("adamax", {}),
    ("adamax", {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.1}),
    ("nadam", {}),
    ("nadam", {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("radam", {}),
    ("radam", {"lr": 0.05, "beta2": 0.9, "weight_decay": 0.1}),
    ("radam", {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
    ("lion", {}),
    ("lion", {"lr": 0.01, "beta1": 0.95, "beta2": 0.98, "weight_decay": 0.1}),
    ("lamb", {}),
    ("lamb", {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.1}),
]


def source(name):
    if name in NUMPY:
        return f"numpy ({'Lion' if name == 'lion' else 'LAMB'} paper)"
    return f"torch.optim.{TORCH[name].__name__}"


def render(document):
    """JSON with one line per trajectory step, so a diff shows which step of which case moved."""
    lines = ["{"]
    for key in ("description", "command", "torch_version", "numpy_version", "problem"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(document[key])},")
    lines.append('  "cases": [')
    for c, case in enumerate(document["cases"]):
        lines.append("    {")
        for key in ("optimizer", "settings", "source"):
            lines.append(f"      {json.dumps(key)}: {json.dumps(case[key])},")
        lines.append('      "trajectory": [')
        steps = case["trajectory"]
        for s, params in enumerate(steps):
            lines.append(f"        {json.dumps(params)}{',' if s + 1 < len(steps) else ''}")
        lines.append("      ]")
        lines.append("    }" + ("," if c + 1 < len(document["cases"]) else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(root, "tests", "data", "optim_reference.json"))
    args = parser.parse_args()

    # Scalar optimizer state (NAdam's mu_product, step counts) is a tensor of the default dtype.
    torch.set_default_dtype(torch.float64)
    start, grads = initial_values(), gradients()
    cases = []
    for name, settings in CASES:
        run = NUMPY[name] if name in NUMPY else lambda s, p, g, n=name: run_torch(n, s, p, g)
        cases.append({"optimizer": name, "settings": settings, "source": source(name),
                      "trajectory": run(settings, start, grads)})
    document = {
        "description": "Parameter trajectories of each optimizer on one fixed float64 problem "
                       "(tools/optim_reference.py); trajectory[step][tensor] holds the flattened "
                       "parameters after that step; a null gradient means the tensor has none.",
        "command": COMMAND,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "problem": {"shapes": SHAPES, "initial": start, "gradients": grads},
        "cases": cases,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(render(document))


if __name__ == "__main__":
    main()

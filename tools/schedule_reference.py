#!/usr/bin/python3
"""Learning rates from torch.optim.lr_scheduler, for tests/test_schedule.cpp.

Records, for each scheduler and setting, the rate in effect for optimizer steps 0..N-1 (read
before each step, then scheduler.step()), and for ReduceLROnPlateau the rate after each epoch's
metric. Writes tests/data/schedule_reference.json.
Usage: /usr/bin/python3 tools/schedule_reference.py
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data",
                   "schedule_reference.json")
STEPS = 40


def rates(make_scheduler, base_lr, steps=STEPS):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def plateau(metrics, **kwargs):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", threshold_mode="rel", **kwargs)
    out = []
    for m in metrics:
        sched.step(m)
        out.append(opt.param_groups[0]["lr"])
    return out


lr = torch.optim.lr_scheduler
cases = [
    {"schedule": "step", "base_lr": 0.1, "step_size": 7, "gamma": 0.5,
     "rates": rates(lambda o: lr.StepLR(o, step_size=7, gamma=0.5), 0.1)},
    {"schedule": "multistep", "base_lr": 0.2, "milestones": [5, 12, 30], "gamma": 0.3,
     "rates": rates(lambda o: lr.MultiStepLR(o, milestones=[5, 12, 30], gamma=0.3), 0.2)},
    {"schedule": "exponential", "base_lr": 0.05, "gamma": 0.9,
     "rates": rates(lambda o: lr.ExponentialLR(o, gamma=0.9), 0.05)},
    {"schedule": "cosine", "base_lr": 0.1, "total_steps": STEPS, "min_lr": 0.001,
     "rates": rates(lambda o: lr.CosineAnnealingLR(o, T_max=STEPS, eta_min=0.001), 0.1)},
    {"schedule": "onecycle", "max_lr": 0.4, "total_steps": STEPS, "pct_start": 0.3, "div_factor": 25.0,
     "final_div_factor": 1e4,
     "rates": rates(lambda o: lr.OneCycleLR(o, max_lr=0.4, total_steps=STEPS, pct_start=0.3, anneal_strategy="cos",
                                            div_factor=25.0, final_div_factor=1e4, cycle_momentum=False), 0.4)},
    {"schedule": "onecycle", "max_lr": 1.0, "total_steps": 25, "pct_start": 0.5, "div_factor": 10.0,
     "final_div_factor": 100.0,
     "rates": rates(lambda o: lr.OneCycleLR(o, max_lr=1.0, total_steps=25, pct_start=0.5, anneal_strategy="cos",
                                            div_factor=10.0, final_div_factor=100.0, cycle_momentum=False), 1.0, 25)},
]
metrics = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.85, 0.86, 0.86, 0.87, 0.88, 0.89, 0.80, 0.81, 0.82, 0.83, 0.84, 0.85]
cases.append({"schedule": "plateau", "lr": 0.5, "factor": 0.5, "patience": 2, "threshold": 1e-4, "cooldown": 1,
              "min_lr": 0.1, "metrics": metrics,
              "rates": plateau(metrics, factor=0.5, patience=2, threshold=1e-4, cooldown=1, min_lr=0.1)})

with open(OUT, "w") as f:
    json.dump({"command": "/usr/bin/python3 tools/schedule_reference.py", "torch": torch.__version__, "cases": cases},
              f, indent=1)
    f.write("\n")
print(f"wrote {OUT}: {len(cases)} cases")

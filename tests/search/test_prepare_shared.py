"""A sweep prepares each distinct data once: the shared preparation must equal each member's
own ``prepare`` (arrays, split, task, resolved config), and members whose data differ must
not share."""

from __future__ import annotations

import numpy as np

from mlplab.api import prepare
from mlplab.config import RunConfig
from mlplab.search.sweep import member_configs, prepare_shared


def test_shared_preparation_equals_each_members_own() -> None:
    base = RunConfig.from_dict({"data": {"source": "circles", "n_samples": 120,
                                         "val_size": 0.2},
                                "train": {"early_stopping": "auto", "epochs": 5}})
    params = [{"optim.lr": lr, "seed": seed, "model.hidden": h}
              for lr in (0.1, 0.3) for seed in (0, 1) for h in ([4], [6, 6])]
    configs = member_configs(base, [f"m{k}" for k in range(len(params))], params)
    shared = prepare_shared(configs)
    own = [prepare(c) for c in configs]
    for s, o in zip(shared, own, strict=True):
        assert s.cfg == o.cfg  # each member keeps its own lr, seed and layers
        assert s.task == o.task
        for split in o.X:
            np.testing.assert_array_equal(s.X[split], o.X[split])
            np.testing.assert_array_equal(s.y[split], o.y[split])
    # one preparation per seed (the data's noise and split follow it), not one per member
    assert len({id(p.X) for p in shared}) == 2
    assert shared[0].X is not shared[2].X  # seeds 0 and 1: different data, never shared

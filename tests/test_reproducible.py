"""Same seed, same run, watched or not: views, live metrics and clicks draw their random
numbers beside training's stream, so what the window looks at never changes what it trains."""
import numpy as np
import pytest
from conftest import registry_with

from visgen.core.run import Run
from visgen.core.streams import Demand

CASES = [  # model, plugin, dataset, params, steps
    ("gan", "gan", "ring8", {"hidden": 32, "batch_size": 32}, 40),
    ("vae", "vae", "digits", {"hidden": 64, "batch_size": 32}, 30),
    ("ddpm", "ddpm", "ring8", {"hidden": 32, "batch_size": 64, "T": 50}, 30),
]


def losses(model, plugin, dataset, params, steps, watched: bool) -> dict:
    run = Run(registry_with(plugin), model, dataset, params=params, seed=3, threads=1,
              dataset_options={"n": 512} if dataset == "ring8" else None)
    run.demand = Demand(budget=1.0, min_interval=0.0, max_age=None)  # every request served at once
    views = [v.id for v in run.views if not v.scalars]
    for i in range(steps):
        if watched:
            for v in views[i % 2::2]:  # half of them every step, in turn: at moments of their own
                run.request(v)
        run.train(1)
    served = [v for v in views if run.take(v) is not None]
    if watched:
        assert served, "no view was served: the test would prove nothing"
    return {k: v for k, (_, v) in run.scalars.series().items()}


@pytest.mark.parametrize("model, plugin, dataset, params, steps", CASES, ids=[c[0] for c in CASES])
def test_watching_a_run_does_not_change_what_it_trains(model, plugin, dataset, params, steps):
    alone = losses(model, plugin, dataset, params, steps, watched=False)
    watched = losses(model, plugin, dataset, params, steps, watched=True)
    assert alone.keys() == watched.keys()
    for name in alone:
        np.testing.assert_array_equal(alone[name], watched[name], err_msg=name)

"""Plugin discovery through real entry points, guarded per plugin."""
import json
import subprocess
import sys
import textwrap

import pytest
from plugin_dists import clean_env, fake_dist, info_of, load, run_cli  # noqa: F401 (fixture)

from visgen import hookimpl
from visgen.core.registry import ENV_BLOCK, ENV_DISABLE, Registry
from visgen.core.spec import DatasetSpec, ModelSpec

ALL_DATASETS = {"ring8", "grid25", "moons", "swissroll", "checkerboard", "spiral", "circles",
                "digits", "shapes", "fashion-mnist", "mnist", "csv", "image-folder"}

GOOD = '''
from visgen import ModelSpec, hookimpl

@hookimpl
def visgen_register_models():
    return [ModelSpec(id="{model}", family="Toy", title="Toy model", summary="for tests",
                      trainer="{module}:Nope", data_kinds=("points",), default_dataset="ring8")]
'''

BROKEN_IMPORT = '''
raise ImportError("needs the package frobnicator-9000, which is not installed")
'''

HOOK_RAISES = '''
from visgen import hookimpl

@hookimpl
def visgen_register_models():
    raise RuntimeError("hook exploded on purpose")
'''

WRONG_TYPE = '''
from visgen import hookimpl

@hookimpl
def visgen_register_models():
    return ["not a ModelSpec"]
'''

EXITS = '''
import sys
sys.exit("plugin called sys.exit at import")
'''

DUP_WITH_DATASET = '''
from visgen import DatasetSpec, ModelSpec, hookimpl

@hookimpl
def visgen_register_models():
    return [ModelSpec(id="{model}", family="Toy", title="Second", summary="dup",
                      trainer="x:y", data_kinds=("points",), default_dataset="ring8")]

@hookimpl
def visgen_register_datasets():
    return [DatasetSpec(name="dup-extra-data", title="Extra", kind="points", loader="x:y")]
'''


# -- (a) a real entry point ---------------------------------------------------------
def test_entry_point_plugin_is_discovered(fake_dist):
    mod = fake_dist.add("toy-good", "good", GOOD, model="toy-good")
    reg = load(fake_dist)
    assert "toy-good" in reg.models
    spec = reg.model("toy-good")
    assert isinstance(spec, ModelSpec) and spec.trainer == f"{mod}:Nope"
    assert reg.model_plugin["toy-good"] == "toy-good"
    info = info_of(reg, "toy-good")
    assert info.ok and info.models == ["toy-good"]
    assert mod in info.source and fake_dist.dist in info.source
    # the project's own plugin is found through its entry point as well
    assert "vae" in reg.models and reg.model_plugin["vae"] == "vae"
    assert not reg.failed


# -- (b) broken plugins are listed, good ones keep working --------------------------------
def test_broken_plugins_are_recorded_and_skipped(fake_dist):
    fake_dist.add("toy-good", "good", GOOD, model="toy-good")
    fake_dist.add("broken-import", "broken", BROKEN_IMPORT)
    fake_dist.add("hook-raises", "raises", HOOK_RAISES)
    fake_dist.add("wrong-type", "wrongtype", WRONG_TYPE)
    fake_dist.add("exits", "exits", EXITS)
    reg = load(fake_dist)

    failed = {p.name: p for p in reg.failed}
    assert set(failed) == {"broken-import", "hook-raises", "wrong-type", "exits"}
    assert failed["broken-import"].error == (
        "ImportError: needs the package frobnicator-9000, which is not installed")
    assert failed["hook-raises"].error == "RuntimeError: hook exploded on purpose"
    assert failed["wrong-type"].error.startswith("TypeError: ")
    assert "visgen_register_models returned str, expected ModelSpec" in failed["wrong-type"].error
    assert failed["exits"].error.startswith("SystemExit")
    for p in failed.values():
        assert "Traceback" in p.detail          # the full traceback is kept for the details view
        assert p.models == []
        assert not p.ok
    assert "frobnicator-9000" in failed["broken-import"].detail
    # the failing hook's plugin is not left half-registered
    assert not reg.pm.has_plugin("hook-raises") and not reg.pm.has_plugin("wrong-type")

    assert "toy-good" in reg.models and info_of(reg, "toy-good").ok
    assert "vae" in reg.models
    # only working plugins contribute models: the good toy and the project's own
    builtin = {m for p in reg.plugins if p.ok and p.name != "toy-good" for m in p.models}
    assert "vae" in builtin and set(reg.models) == {"toy-good"} | builtin


# -- (c) environment switches -----------------------------------------------------------
def test_disable_autoload_loads_nothing(fake_dist, monkeypatch):
    fake_dist.add("toy-good", "good", GOOD, model="toy-good")
    fake_dist.add("broken-import", "broken", BROKEN_IMPORT)
    monkeypatch.setenv(ENV_DISABLE, "1")
    reg = load(fake_dist)
    assert reg.plugins == [] and reg.models == {}
    assert fake_dist.module_name("good") not in sys.modules  # not even imported


def test_block_plugins_skips_the_named_ones(fake_dist, monkeypatch):
    fake_dist.add("toy-good", "good", GOOD, model="toy-good")
    fake_dist.add("broken-import", "broken", BROKEN_IMPORT)
    fake_dist.add("hook-raises", "raises", HOOK_RAISES)
    monkeypatch.setenv(ENV_BLOCK, " broken-import , hook-raises")
    reg = load(fake_dist)
    names = [p.name for p in reg.plugins]
    assert "broken-import" not in names and "hook-raises" not in names
    assert reg.failed == []
    assert "toy-good" in reg.models and "vae" in reg.models
    assert fake_dist.module_name("broken") not in sys.modules

    monkeypatch.setenv(ENV_BLOCK, "vae")
    reg2 = Registry()
    reg2.load_entry_points()
    assert "vae" not in reg2.models and "toy-good" in reg2.models


def test_load_entry_points_twice_does_not_duplicate(fake_dist):
    fake_dist.add("toy-good", "good", GOOD, model="toy-good")
    reg = load(fake_dist)
    reg.load_entry_points()
    assert [p.name for p in reg.plugins].count("toy-good") == 1
    assert not reg.failed


# -- (d) duplicate model ids ---------------------------------------------------------------
def test_duplicate_model_id_is_an_error_of_the_later_plugin(fake_dist):
    first = fake_dist.add("a-first", "first", GOOD, model="toy-dup")
    fake_dist.add("b-second", "second", DUP_WITH_DATASET, model="toy-dup")
    reg = load(fake_dist)
    assert info_of(reg, "a-first").ok
    second = info_of(reg, "b-second")
    assert not second.ok
    assert "toy-dup" in second.error and "already registered" in second.error
    assert reg.model_plugin["toy-dup"] == "a-first"
    assert reg.model("toy-dup").trainer == f"{first}:Nope"
    assert reg.model("toy-dup").title == "Toy model"
    # the later plugin adds nothing at all, not even its (unique) dataset
    assert "dup-extra-data" not in reg.datasets
    assert [p.name for p in reg.failed] == ["b-second"]


class _Plugin:
    """A hand-registered plugin object returning fixed specs."""

    def __init__(self, models=(), datasets=()):
        self._models, self._datasets = list(models), list(datasets)

    @hookimpl
    def visgen_register_models(self):
        return self._models

    @hookimpl
    def visgen_register_datasets(self):
        return self._datasets


def _spec(mid):
    return ModelSpec(id=mid, family="Toy", title=mid, summary="", trainer="x:y")


def test_duplicates_by_hand_registration():
    reg = Registry()
    assert reg.register(_Plugin([_spec("m1")]), "p1").ok
    later = reg.register(_Plugin([_spec("m2"), _spec("m1")]), "p2")
    assert not later.ok and "'m1'" in later.error
    assert set(reg.models) == {"m1"} and reg.model_plugin["m1"] == "p1"
    same = reg.register(_Plugin([_spec("m3"), _spec("m3")]), "p3")
    assert not same.ok and "'m3'" in same.error and "m3" not in reg.models
    ds = DatasetSpec(name="ring8", title="again", kind="points", loader="x:y")
    dup_ds = reg.register(_Plugin(datasets=[ds]), "p4")
    assert reg.register(_Plugin(datasets=[ds]), "p5").error.startswith("ValueError: dataset 'ring8'")
    assert dup_ds.ok
    assert [p.name for p in reg.failed] == ["p2", "p3", "p5"]


def test_unknown_model_lists_valid_ones(registry):
    from visgen.core.errors import UnknownNameError
    with pytest.raises(UnknownNameError, match=r"unknown model 'gann'; valid: .*\bvae\b"):
        registry.model("gann")
    with pytest.raises(UnknownNameError) as ei:
        registry.dataset("ring9")
    assert "ring8" in str(ei.value) and "digits" in str(ei.value)


# -- (e) visgen list --json ------------------------------------------------------------------
def test_cli_list_json_shows_models_datasets_and_failed(fake_dist):
    fake_dist.add("broken-import", "broken", BROKEN_IMPORT)
    fake_dist.add("toy-good", "good", GOOD, model="toy-good")
    proc = run_cli(fake_dist, "list", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    models = {m["id"]: m for m in info["models"]}
    assert "vae" in models and "toy-good" in models
    assert models["vae"]["plugin"] == "vae"
    assert {p["name"] for p in models["vae"]["params"]} >= {"beta", "lr", "latent_dim", "arch"}
    datasets = {d["name"]: d for d in info["datasets"]}
    assert set(datasets) == ALL_DATASETS
    for d in datasets.values():
        assert isinstance(d["available"], bool)
    for name in ("ring8", "grid25", "moons", "swissroll", "checkerboard", "spiral", "circles", "digits"):
        assert datasets[name]["available"] is True, name
    assert datasets["csv"]["available"] is False and datasets["csv"]["why"] == "needs a path"
    failed = {f["name"]: f for f in info["failed"]}
    assert set(failed) == {"broken-import"}
    assert "frobnicator-9000" in failed["broken-import"]["error"]
    assert {"lines", "scatter", "image_grid"} <= {v["name"] for v in info["views"]}


def test_cli_list_text_mentions_failed_plugin(fake_dist):
    fake_dist.add("broken-import", "broken", BROKEN_IMPORT)
    proc = run_cli(fake_dist, "list")
    assert proc.returncode == 0, proc.stderr
    assert "Failed plugins:" in proc.stdout
    assert "broken-import: ImportError" in proc.stdout
    assert "vae" in proc.stdout and "digits" in proc.stdout


# -- import weight ---------------------------------------------------------------------------
def test_importing_visgen_and_plugins_is_light():
    code = textwrap.dedent("""
        import json, sys
        import visgen, visgen_vae
        from visgen.composition import default_registry
        from visgen.cli.list_command import describe
        info = describe(default_registry())
        assert any(m["id"] == "vae" for m in info["models"]), info["models"]
        print(json.dumps(sorted(m for m in ("torch", "PySide6", "sklearn", "PIL", "pyqtgraph")
                                if m in sys.modules)))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=clean_env())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []

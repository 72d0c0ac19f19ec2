"""Plugin mistakes that speak: a misspelt or undecorated hook fails its plugin by name,
and ``VISGEN_TRACE_PLUGINS=1`` shows every hook call."""
import json
import re

import pytest
from plugin_dists import fake_dist, info_of, load, run_cli  # noqa: F401 (fixture)

from visgen import ModelSpec, hookimpl
from visgen.core import trace
from visgen.core.registry import Registry

VALID_HOOKS = "visgen_register_datasets, visgen_register_models, visgen_register_views"

GOOD = '''
from visgen import ModelSpec, hookimpl

@hookimpl
def visgen_register_models():
    return [ModelSpec(id="{model}", family="Toy", title="Toy model", summary="for tests",
                      trainer="{module}:Nope", data_kinds=("points",), default_dataset="ring8")]
'''

# the one-letter slip from the issue: pluggy registers it, and nothing ever calls it
MISSPELT = '''
from visgen import ModelSpec, hookimpl

@hookimpl
def visgen_register_model():
    return [ModelSpec(id="{model}", family="Toy", title="Never", summary="misspelt hook",
                      trainer="x:y", data_kinds=("points",), default_dataset="ring8")]
'''

UNDECORATED = '''
from visgen import ModelSpec

def visgen_register_models():
    return [ModelSpec(id="{model}", family="Toy", title="Never", summary="no decorator",
                      trainer="x:y", data_kinds=("points",), default_dataset="ring8")]
'''

# one good hook does not save a plugin whose other hook is misspelt
HALF_MISSPELT = '''
from visgen import DatasetSpec, ModelSpec, hookimpl

@hookimpl
def visgen_register_models():
    return [ModelSpec(id="{model}", family="Toy", title="Half", summary="half right",
                      trainer="x:y", data_kinds=("points",), default_dataset="ring8")]

@hookimpl
def visgen_register_dataset():
    return [DatasetSpec(name="never-data", title="Never", kind="points", loader="x:y")]
'''

UNDECORATED_AND_MISSPELT = '''
def visgen_register_modles():
    return []
'''

WRONG_ARGS = '''
from visgen import hookimpl

@hookimpl
def visgen_register_models(registry):
    return []
'''

OPTIONAL_FUTURE_HOOK = '''
from visgen import ModelSpec, hookimpl

@hookimpl(optionalhook=True)
def visgen_register_samplers():
    return []

@hookimpl
def visgen_register_models():
    return [ModelSpec(id="{model}", family="Toy", title="Forward", summary="newer hook too",
                      trainer="x:y", data_kinds=("points",), default_dataset="ring8")]
'''

HOOK_RAISES = '''
from visgen import hookimpl

@hookimpl
def visgen_register_models():
    raise RuntimeError("hook exploded on purpose")
'''


def assert_failed_alone(reg: Registry, name: str, error: str, model: str = None):
    """``name`` failed with exactly ``error`` (one line), added nothing and is unregistered."""
    info = info_of(reg, name)
    assert not info.ok
    assert info.error == error
    assert "\n" not in info.error
    assert "Traceback" in info.detail and info.error.split(": ", 1)[1] in info.detail
    assert info.models == []
    assert not reg.pm.has_plugin(name)
    if model:
        assert model not in reg.models


# -- (a) a misspelt hook --------------------------------------------------------------------
def test_misspelt_hook_fails_its_plugin_naming_the_valid_hooks(fake_dist):
    mod = fake_dist.add("misspelt", "misspelt", MISSPELT, model="toy-misspelt")
    reg = load(fake_dist)
    assert_failed_alone(reg, "misspelt", "PluginValidationError: unknown hook 'visgen_register_model' "
                        f"in {mod}; valid hooks: {VALID_HOOKS}", model="toy-misspelt")


def test_a_misspelt_hook_fails_the_whole_plugin(fake_dist):
    mod = fake_dist.add("half", "half", HALF_MISSPELT, model="toy-half")
    reg = load(fake_dist)
    assert_failed_alone(reg, "half", "PluginValidationError: unknown hook 'visgen_register_dataset' "
                        f"in {mod}; valid hooks: {VALID_HOOKS}", model="toy-half")
    assert "never-data" not in reg.datasets


def test_optional_hook_without_spec_is_allowed(fake_dist):
    """``optionalhook=True`` is pluggy's way to implement a hook a newer visgen may add."""
    fake_dist.add("forward", "forward", OPTIONAL_FUTURE_HOOK, model="toy-forward")
    reg = load(fake_dist)
    assert info_of(reg, "forward").ok and reg.model_plugin["toy-forward"] == "forward"


# -- (b) a hook without @hookimpl -----------------------------------------------------------
def test_undecorated_hook_fails_its_plugin_naming_the_decorator(fake_dist):
    mod = fake_dist.add("undecorated", "undecorated", UNDECORATED, model="toy-undecorated")
    reg = load(fake_dist)
    assert_failed_alone(reg, "undecorated", "PluginValidationError: undecorated hook "
                        f"'visgen_register_models' in {mod}: decorate it with @visgen.hookimpl",
                        model="toy-undecorated")


def test_undecorated_misspelt_hook_also_lists_the_valid_hooks(fake_dist):
    mod = fake_dist.add("both", "both", UNDECORATED_AND_MISSPELT)
    reg = load(fake_dist)
    assert_failed_alone(reg, "both", "PluginValidationError: undecorated hook 'visgen_register_modles' "
                        f"in {mod}: decorate it with @visgen.hookimpl; valid hooks: {VALID_HOOKS}")


def test_undecorated_method_of_a_plugin_object_fails_it():
    class Forgot:
        def visgen_register_models(self):
            return [ModelSpec(id="forgot", family="Toy", title="Forgot", summary="", trainer="x:y")]

    reg = Registry()
    info = reg.register(Forgot(), "forgot")
    assert info.error == (f"PluginValidationError: undecorated hook 'visgen_register_models' in "
                          f"{__name__}: decorate it with @visgen.hookimpl")
    assert "forgot" not in reg.models and not reg.pm.has_plugin("forgot")


def test_pluggy_signature_error_is_one_line_with_the_detail_kept(fake_dist):
    fake_dist.add("wrong-args", "wrongargs", WRONG_ARGS)
    reg = load(fake_dist)
    info = info_of(reg, "wrong-args")
    assert info.error.startswith("PluginValidationError: Plugin 'wrong-args' for hook "
                                 "'visgen_register_models'; ")
    assert "'registry'" in info.error and "\n" not in info.error
    assert "hookimpl definition" in info.detail and "Traceback" in info.detail


# -- (d) a good plugin beside broken ones -----------------------------------------------------
def test_good_plugin_next_to_broken_ones_still_loads(fake_dist):
    good = fake_dist.add("toy-good", "good", GOOD, model="toy-good")
    fake_dist.add("misspelt", "misspelt", MISSPELT, model="toy-misspelt")
    fake_dist.add("undecorated", "undecorated", UNDECORATED, model="toy-undecorated")
    reg = load(fake_dist)
    assert {p.name for p in reg.failed} == {"misspelt", "undecorated"}
    info = info_of(reg, "toy-good")
    assert info.ok and info.models == ["toy-good"]
    assert reg.model("toy-good").trainer == f"{good}:Nope"
    for builtin in ("vae", "gan", "ddpm"):
        assert info_of(reg, builtin).ok and reg.model_plugin[builtin] == builtin
    assert "toy-misspelt" not in reg.models and "toy-undecorated" not in reg.models


# -- (c) visgen list shows them ----------------------------------------------------------------
@pytest.fixture
def broken_beside_good(fake_dist):
    """Modules of a misspelt, an undecorated and a good plugin, not yet written."""
    return {"misspelt": fake_dist.add("misspelt", "misspelt", MISSPELT, model="toy-misspelt"),
            "undecorated": fake_dist.add("undecorated", "undecorated", UNDECORATED,
                                         model="toy-undecorated"),
            "toy-good": fake_dist.add("toy-good", "good", GOOD, model="toy-good")}


def test_cli_list_text_names_the_mistakes(fake_dist, broken_beside_good):
    proc = run_cli(fake_dist, "list")
    assert proc.returncode == 0, proc.stderr
    failed = proc.stdout.split("Failed plugins:\n", 1)[1].splitlines()
    assert sorted(failed) == sorted([
        f"  misspelt: PluginValidationError: unknown hook 'visgen_register_model' in "
        f"{broken_beside_good['misspelt']}; valid hooks: {VALID_HOOKS}",
        f"  undecorated: PluginValidationError: undecorated hook 'visgen_register_models' in "
        f"{broken_beside_good['undecorated']}: decorate it with @visgen.hookimpl",
    ])
    assert re.search(r"^  toy-good +Toy +Toy model  \[toy-good\]$", proc.stdout, re.M)
    assert re.search(r"^  vae +VAE .*\[vae\]$", proc.stdout, re.M)


def test_cli_list_json_names_the_mistakes(fake_dist, broken_beside_good):
    proc = run_cli(fake_dist, "list", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    failed = {f["name"]: f["error"] for f in info["failed"]}
    assert set(failed) == {"misspelt", "undecorated"}
    assert "unknown hook 'visgen_register_model'" in failed["misspelt"]
    assert f"valid hooks: {VALID_HOOKS}" in failed["misspelt"]
    assert "undecorated hook 'visgen_register_models'" in failed["undecorated"]
    assert "@visgen.hookimpl" in failed["undecorated"]
    plugins = {p["name"]: p for p in info["plugins"]}
    assert plugins["misspelt"]["ok"] is False and plugins["misspelt"]["models"] == []
    assert plugins["toy-good"]["ok"] is True and plugins["toy-good"]["models"] == ["toy-good"]
    assert {m["id"] for m in info["models"]} >= {"toy-good", "vae", "gan", "ddpm"}
    assert not {"toy-misspelt", "toy-undecorated"} & {m["id"] for m in info["models"]}


# -- (e) VISGEN_TRACE_PLUGINS ------------------------------------------------------------------
TRACE_LINE = re.compile(r"^visgen trace: plugin=(\S+) call=(\S+) (\d+\.\d+) ms -> "
                        r"(?:(\d+) results?|raised (\w+))$")


def trace_lines(stderr: str) -> list:
    """Every trace line of ``stderr`` as (plugin, call, ms, count, raised); fails on a malformed one."""
    out = []
    for line in stderr.splitlines():
        if line.startswith(trace.PREFIX):
            m = TRACE_LINE.match(line)
            assert m, f"malformed trace line: {line!r}"
            plugin, call, ms, n, raised = m.groups()
            out.append((plugin, call, float(ms), None if n is None else int(n), raised))
    return out


def test_cli_traces_every_hook_call_when_asked(fake_dist):
    fake_dist.add("toy-good", "good", GOOD, model="toy-good")
    fake_dist.add("hook-raises", "raises", HOOK_RAISES)
    proc = run_cli(fake_dist, "list", "--json", VISGEN_TRACE_PLUGINS="1")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    lines = trace_lines(proc.stderr)
    models_of = {p["name"]: len(p["models"]) for p in info["plugins"]}
    expected = [("visgen.datasets", "visgen_register_datasets", len(info["datasets"]), None),
                ("visgen.views", "visgen_register_views", len(info["views"]), None),
                ("toy-good", "visgen_register_models", 1, None),
                ("hook-raises", "visgen_register_models", None, "RuntimeError")]
    expected += [(p, "visgen_register_models", models_of[p], None) for p in ("vae", "gan", "ddpm", "flow", "pixelcnn")]
    assert sorted((p, c, n, r) for p, c, _, n, r in lines) == sorted(expected, key=str)
    assert all(ms >= 0 for _, _, ms, _, _ in lines)
    assert models_of["gan"] > 1  # a count, not just "something came back"


def test_cli_prints_no_trace_without_the_switch(fake_dist):
    fake_dist.add("toy-good", "good", GOOD, model="toy-good")
    for env in ({}, {"VISGEN_TRACE_PLUGINS": "0"}):
        proc = run_cli(fake_dist, "list", **env)
        assert proc.returncode == 0, proc.stderr
        assert "toy-good" in proc.stdout
        assert trace.PREFIX not in proc.stderr


@pytest.fixture
def tracing(monkeypatch):
    """Tracing on for this test (as if VISGEN_TRACE_PLUGINS=1), back as it was afterwards."""
    was = trace.enabled()
    monkeypatch.setenv(trace.ENV_TRACE, "1")
    assert trace.configure() is True
    yield
    trace.configure(was)


def test_registry_traces_hook_calls_in_process(tracing, capsys):
    class Two:
        @hookimpl
        def visgen_register_models(self):
            return [ModelSpec(id=i, family="Toy", title=i, summary="", trainer="x:y") for i in ("a", "b")]

    reg = Registry()
    assert reg.register(Two(), "two").ok
    assert [(p, c, n) for p, c, _, n, _ in trace_lines(capsys.readouterr().err)] == [
        ("two", "visgen_register_models", 2)]


def test_trace_helpers_for_trainer_calls(tracing, capsys):
    assert trace.call("vae", "step", lambda: {"loss": 1.0, "kl": 2.0}) == {"loss": 1.0, "kl": 2.0}
    assert trace.call("vae", "snapshot", lambda: None) is None
    with pytest.raises(ValueError):
        with trace.span("gan", "step"):
            raise ValueError("boom")
    with trace.span("gan", "snapshot") as s:
        s.result = object()
    assert [(p, c, n, r) for p, c, _, n, r in trace_lines(capsys.readouterr().err)] == [
        ("vae", "step", 2, None), ("vae", "snapshot", 0, None),
        ("gan", "step", None, "ValueError"), ("gan", "snapshot", 1, None)]

    trace.configure(False)
    assert trace.call("vae", "step", lambda: [1, 2]) == [1, 2]
    trace.record("vae", "step", 0.1, [1])
    assert capsys.readouterr().err == ""


def test_trace_line_format():
    assert trace.format_line("vae", "visgen_register_models", 0.0003, ["m"]) == (
        "visgen trace: plugin=vae call=visgen_register_models 0.30 ms -> 1 result")
    assert trace.format_line("x", "step", 0.5, "text").endswith("500.00 ms -> 1 result")
    assert trace.format_line("x", "step", 0, error=KeyError("k")).endswith("-> raised KeyError")
    assert [trace.count(r) for r in (None, [], [1, 2], {"a": 1}, 3, "ab")] == [0, 0, 2, 1, 1, 1]


# -- (f) visgen list shows what each plugin provides ---------------------------------------------
EMPTY = '''
from visgen import hookimpl

@hookimpl
def visgen_register_models():
    return []
'''


def test_cli_list_marks_a_plugin_that_provides_nothing_and_keeps_long_ids_in_columns(fake_dist):
    fake_dist.add("empty", "empty", EMPTY)
    long_id = "a-rather-long-model-identifier"
    fake_dist.add("toy-good", "good", GOOD, model=long_id)
    proc = run_cli(fake_dist, "list")
    assert proc.returncode == 0, proc.stderr
    plugins = proc.stdout.split("Plugins:\n", 1)[1].splitlines()
    empty = next(line for line in plugins if line.startswith("  empty ("))
    assert "PROVIDES NOTHING" in empty
    assert any(line.startswith("  vae (") and "models: vae, cvae, vqvae" in line for line in plugins)
    assert any(line.startswith("  visgen.datasets (") and "datasets: ring8" in line for line in plugins)
    models = proc.stdout.split("Models:\n", 1)[1].split("Datasets:\n", 1)[0].splitlines()
    starts = {len(line) - len(line[2:].split(" ", 1)[1].lstrip()) for line in models}
    assert len(starts) == 1, models  # the family column starts at one place, the long id included
    assert any(line.startswith(f"  {long_id} ") for line in models)


def test_cli_list_json_declares_views_and_params_whole(fake_dist):
    fake_dist.add("empty", "empty", EMPTY)
    proc = run_cli(fake_dist, "list", "--json")
    info = json.loads(proc.stdout)
    vae = next(m for m in info["models"] if m["id"] == "vae")
    kl = next(v for v in vae["views"] if v["id"] == "kl_dims")
    assert kl["kind"] == "bars" and kl["title"] == "KL per latent dimension"
    losses = next(v for v in vae["views"] if v["id"] == "losses")
    assert losses["scalars"] == ["neg_elbo", "recon", "kl"]
    likelihood = next(p for p in vae["params"] if p["name"] == "likelihood")
    assert likelihood["choices"] == ["auto", "bernoulli", "gaussian"]
    lr = next(p for p in vae["params"] if p["name"] == "lr")
    assert (lr["min"], lr["max"], lr["log"], lr["live"]) == (1e-6, 1.0, True, True)
    plugins = {p["name"]: p for p in info["plugins"]}
    assert plugins["empty"]["ok"] and plugins["empty"]["models"] == plugins["empty"]["datasets"] == []
    assert "bars" in plugins["visgen.views"]["view_kinds"]

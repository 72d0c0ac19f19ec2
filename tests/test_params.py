"""Typed hyperparameters: parsing user text, validation, ``--set key=value``."""
import math

import pytest

from visgen.core.errors import ParamError, UnknownNameError, VisgenError
from visgen.core.params import Param, ParamSet


# -- float -----------------------------------------------------------------------
def test_float_parses_text_and_numbers():
    p = Param("lr", 1e-3, min=1e-6, max=1.0)
    assert p.parse("0.01") == pytest.approx(0.01)
    assert p.parse(" 1e-4 ") == pytest.approx(1e-4)
    assert p.parse(1) == 1.0 and isinstance(p.parse(1), float)
    assert p.parse("1") == 1.0


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "infinity"])
def test_float_refuses_nan_and_inf(text):
    p = Param("beta", 1.0)  # no range: only finiteness stops these
    with pytest.raises(ParamError, match="beta"):
        p.parse(text)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_float_validate_refuses_non_finite_values(value):
    with pytest.raises(ParamError):
        Param("beta", 1.0).validate(value)


@pytest.mark.parametrize("text", ["2.0000001", "0", "-1", "1e-7"])
def test_float_range_is_enforced_and_named(text):
    p = Param("lr", 1e-3, min=1e-6, max=2.0)
    with pytest.raises(ParamError) as ei:
        p.parse(text)
    msg = str(ei.value)
    assert msg.startswith("lr:")
    assert "[1e-06, 2]" in msg


def test_float_range_bounds_are_inclusive():
    p = Param("lr", 1e-3, min=1e-6, max=2.0)
    assert p.parse("2") == 2.0
    assert p.parse("1e-6") == 1e-6


@pytest.mark.parametrize("text", ["abc", "", "1,5", "0x10"])
def test_float_refuses_text_that_is_not_a_number(text):
    with pytest.raises(ParamError, match="is not a number"):
        Param("lr", 1e-3).parse(text)


@pytest.mark.parametrize("value", [True, None, "x", [1.0]])
def test_float_validate_refuses_non_numbers(value):
    with pytest.raises(ParamError):
        Param("lr", 1e-3).validate(value)


# -- int -------------------------------------------------------------------------
def test_int_accepts_integral_text():
    p = Param("latent_dim", 2, type="int", min=1, max=128)
    assert p.parse("3") == 3
    assert p.parse("3.0") == 3 and isinstance(p.parse("3.0"), int)
    assert p.parse("1e1") == 10
    assert p.parse(4.0) == 4 and isinstance(p.parse(4.0), int)


@pytest.mark.parametrize("text", ["3.5", "abc", "nan", "inf", "2.000001"])
def test_int_refuses_fractions_and_garbage(text):
    p = Param("latent_dim", 2, type="int", min=1, max=128)
    with pytest.raises(ParamError) as ei:
        p.parse(text)
    assert "latent_dim" in str(ei.value) and "integer" in str(ei.value)


@pytest.mark.parametrize("value", [3.5, True, "3"])
def test_int_validate_refuses_non_integers(value):
    with pytest.raises(ParamError):
        Param("n", 2, type="int").validate(value)


@pytest.mark.parametrize("text", ["0", "129", "-5"])
def test_int_range(text):
    with pytest.raises(ParamError, match=r"an integer in \[1, 128\]"):
        Param("latent_dim", 2, type="int", min=1, max=128).parse(text)


# -- bool ------------------------------------------------------------------------
@pytest.mark.parametrize("text,value", [("true", True), ("Yes", True), ("1", True), ("ON", True),
                                        ("false", False), ("no", False), ("0", False), ("off", False)])
def test_bool_parses_common_spellings(text, value):
    assert Param("ema", False, type="bool").parse(text) is value


@pytest.mark.parametrize("text", ["maybe", "2", "", "tru"])
def test_bool_refuses_other_text(text):
    with pytest.raises(ParamError, match="true or false"):
        Param("ema", False, type="bool").parse(text)


@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_bool_validate_wants_a_real_bool(value):
    with pytest.raises(ParamError):
        Param("ema", False, type="bool").validate(value)


# -- choice and str ----------------------------------------------------------------
def test_choice_accepts_listed_values_only():
    p = Param("arch", "mlp", type="choice", choices=("mlp", "conv"))
    assert p.parse("conv") == "conv"
    assert p.parse(" mlp ") == "mlp"
    with pytest.raises(ParamError) as ei:
        p.parse("resnet")
    assert "arch" in str(ei.value) and "one of mlp, conv" in str(ei.value)
    with pytest.raises(ParamError):
        p.parse("MLP")  # case matters: choices are identifiers


def test_str_keeps_text_and_refuses_non_text():
    p = Param("note", "", type="str")
    assert p.parse("  hello world ") == "hello world"
    assert p.parse("3") == "3"
    with pytest.raises(ParamError):
        p.validate(3)


# -- declarations ------------------------------------------------------------------
def test_bad_declarations_are_refused():
    with pytest.raises(ValueError):
        Param("x", 1.0, type="complex")
    with pytest.raises(ValueError):
        Param("arch", "vit", type="choice", choices=("mlp", "conv"))
    with pytest.raises(ParamError):  # default outside its own range
        Param("lr", 5.0, min=0.0, max=1.0)


def test_errors_are_visgen_errors():
    assert issubclass(ParamError, VisgenError)
    assert issubclass(UnknownNameError, VisgenError)


def test_title_and_describe_range():
    assert Param("batch_size", 1, type="int").title == "batch size"
    assert Param("lr", 1e-3, label="Learning rate").title == "Learning rate"
    assert Param("x", 0.5).describe_range() == "a number in [-inf, inf]"
    assert Param("x", 0.5, min=0, max=1).describe_range() == "a number in [0, 1]"


# -- ParamSet ----------------------------------------------------------------------
PARAMS = [
    Param("arch", "mlp", type="choice", choices=("mlp", "conv")),
    Param("latent_dim", 2, type="int", min=1, max=128),
    Param("beta", 1.0, min=0.0, max=20.0, live=True),
    Param("ema", False, type="bool"),
]


def test_paramset_starts_at_defaults_and_validates_initial_values():
    ps = ParamSet(PARAMS)
    assert ps.values == {"arch": "mlp", "latent_dim": 2, "beta": 1.0, "ema": False}
    ps2 = ParamSet(PARAMS, {"latent_dim": 8.0})
    assert ps2.values["latent_dim"] == 8 and isinstance(ps2.values["latent_dim"], int)
    with pytest.raises(ParamError):
        ParamSet(PARAMS, {"latent_dim": 0})
    with pytest.raises(UnknownNameError):
        ParamSet(PARAMS, {"depth": 3})


def test_parse_assignments_applies_and_reports_changes():
    ps = ParamSet(PARAMS)
    changed = ps.parse_assignments(["latent_dim=8", " beta = 4.5", "ema=yes", "arch=conv"])
    assert changed == {"latent_dim": 8, "beta": 4.5, "ema": True, "arch": "conv"}
    assert ps.values == changed
    assert ps.parse_assignments([]) == {}


def test_parse_assignments_value_may_contain_equals():
    ps = ParamSet([Param("note", "", type="str")])
    assert ps.parse_assignments(["note=a=b"]) == {"note": "a=b"}


@pytest.mark.parametrize("item", ["beta", "beta:2", ""])
def test_parse_assignments_refuses_bad_syntax(item):
    ps = ParamSet(PARAMS)
    with pytest.raises(ParamError, match="key=value"):
        ps.parse_assignments([item])


def test_parse_assignments_unknown_name_lists_valid_names():
    ps = ParamSet(PARAMS)
    with pytest.raises(UnknownNameError) as ei:
        ps.parse_assignments(["betta=2"])
    msg = str(ei.value)
    assert "'betta'" in msg
    for name in ("arch", "latent_dim", "beta", "ema"):
        assert name in msg
    assert "\n" not in msg


def test_parse_assignments_bad_value_names_param_and_range():
    ps = ParamSet(PARAMS)
    with pytest.raises(ParamError) as ei:
        ps.parse_assignments(["beta=21"])
    assert "beta" in str(ei.value) and "[0, 20]" in str(ei.value)
    assert ps.values["beta"] == 1.0  # a refused value leaves the old one


def test_paramset_copy_is_independent():
    ps = ParamSet(PARAMS)
    cp = ps.copy()
    cp.set("beta", "3")
    assert cp.values["beta"] == 3.0 and ps.values["beta"] == 1.0


def test_empty_paramset_unknown_name():
    with pytest.raises(UnknownNameError, match=r"\(none\)"):
        ParamSet([]).set("lr", "0.1")


# -- defaults for a data kind or a named dataset ------------------------------------------
def test_kind_defaults_by_kind_and_by_dataset_name():
    p = Param("beta", 1.0, min=0.0, max=20.0, kind_defaults={"images": 2.0, "shapes": 4.0})
    assert p.default_for("points") == 1.0
    assert p.default_for("images") == 2.0
    assert p.default_for("images", "digits") == 2.0
    assert p.default_for("images", "shapes") == 4.0      # the dataset's own default wins over its kind
    assert ParamSet([p], data_kind="images", dataset="shapes").values["beta"] == 4.0
    assert ParamSet([p], data_kind="images", dataset="digits").values["beta"] == 2.0
    cp = ParamSet([p], data_kind="images", dataset="shapes").copy()
    assert cp.dataset == "shapes" and cp.values["beta"] == 4.0
    with pytest.raises(ParamError):                     # dataset defaults are validated like the rest
        Param("beta", 1.0, min=0.0, max=20.0, kind_defaults={"shapes": 40.0})


def test_run_takes_defaults_made_for_its_dataset():
    from conftest import registry_with
    from visgen.core.run import Run
    reg = registry_with("vae", "gan")
    shapes, digits = Run(reg, "vae", "shapes"), Run(reg, "vae", "digits")
    assert (shapes.params.values["beta"], shapes.params.values["latent_dim"]) == (4.0, 6)
    assert (digits.params.values["beta"], digits.params.values["latent_dim"]) == (1.0, 2)
    assert Run(reg, "vae", "shapes", params={"beta": 1}).params.values["beta"] == 1.0  # an explicit value wins
    gp_images, gp_points = Run(reg, "wgan-gp", "digits").params.values, Run(reg, "wgan-gp", "ring8").params.values
    assert gp_images["gp_weight"] == 10.0 and gp_images["arch"] == "conv"
    assert gp_points["gp_weight"] == 0.1 and gp_points["arch"] == "mlp"


# -- which parameters get a slider ------------------------------------------------------------
@pytest.mark.parametrize("param,slider", [
    (Param("beta", 1.0, min=0.0, max=20.0, live=True), True),
    (Param("lr", 1e-3, min=1e-6, max=1.0, live=True, log=True), True),
    (Param("steps", 50, type="int", min=1, max=4000, live=True), True),
    (Param("beta", 1.0, min=0.0, max=20.0), False),                        # not live: needs Reset
    (Param("beta", 1.0, min=0.0, live=True), False),                       # no upper end
    (Param("lr", 1e-3, min=0.0, max=1.0, live=True, log=True), False),     # a log scale cannot reach 0
    (Param("beta", 1.0, min=0.0, max=20.0, live=True, slider=False), False),
    (Param("ema", False, type="bool", live=True), False),
    (Param("g", "a", type="choice", choices=("a", "b"), live=True), False),
])
def test_has_slider(param, slider):
    assert param.has_slider is slider

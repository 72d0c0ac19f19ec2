"""Sliders in the hyperparameter form: a live number with a range gets a slider beside its
exact-value box; the two follow each other, log-scaled where the Param says so."""
import math

import pytest
from conftest import registry_with
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QSlider

from visgen.core.params import Param
from visgen.core.run import Run
from visgen.gui.param_form import ParamForm, SliderScale


@pytest.fixture
def form(qtbot):
    f = ParamForm()
    qtbot.addWidget(f)
    f.show()
    return f


def make_run(model="vae", dataset="digits", **params):
    return Run(registry_with("vae", "gan"), model, dataset, params=params, device="cpu", threads=1)


def type_into(qtbot, editor: QLineEdit, text: str) -> None:
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key_Return)


def test_live_numbers_with_a_range_get_a_slider_and_others_do_not(form):
    form.set_run(make_run("wgan-gp", "ring8"))
    have = {n for n in form.sliders}
    assert {"lr_g", "lr_d", "beta1", "beta2", "d_steps", "batch_size", "gp_weight"} <= have
    assert not have & {"arch", "latent_dim", "hidden", "spectral_norm", "loss"}   # need Reset, or no number
    for name in have:
        slider = form.findChild(QSlider, f"param-{name}-slider")
        assert slider is not None and slider is form.sliders[name][0]
        assert form.findChild(QLineEdit, f"param-{name}") is form.editors[name]   # the exact box stays


def test_moving_the_beta_slider_sets_the_runs_beta(form, qtbot):
    run = make_run()
    run.build()
    form.set_run(run)
    slider = form.findChild(QSlider, "param-beta-slider")
    assert slider.value() == 50                      # beta 1 on [0, 20]: 5 % of 1000 positions
    slider.setValue(200)                             # what a drag or a key press does
    assert run.params.values["beta"] == 4.0
    assert form.editors["beta"].text() == "4"        # the box follows
    assert "next step" in form.message.text()
    run.train(1)
    assert run.trainer.params["beta"] == 4.0         # the model trains with it
    qtbot.keyClick(slider, Qt.Key_Right)             # one position: 0.02
    assert run.params.values["beta"] == pytest.approx(4.02)


def test_typing_an_exact_value_moves_the_slider(form, qtbot):
    form.set_run(make_run())
    slider = form.findChild(QSlider, "param-beta-slider")
    type_into(qtbot, form.editors["beta"], "2.5")
    assert form.run.params.values["beta"] == 2.5
    assert slider.value() == 125
    type_into(qtbot, form.editors["beta"], "-3")     # refused: neither the value nor the slider moves
    assert "Refused" in form.message.text()
    assert form.run.params.values["beta"] == 2.5 and slider.value() == 125


def test_learning_rate_slider_is_logarithmic(form, qtbot):
    form.set_run(make_run())                          # lr 1e-3 on [1e-6, 1], log
    slider = form.findChild(QSlider, "param-lr-slider")
    assert slider.value() == 500                      # 1e-3 is half way between 1e-6 and 1 in log
    slider.setValue(750)
    assert form.run.params.values["lr"] == pytest.approx(10 ** -1.5, rel=1e-2)
    assert form.editors["lr"].text() == "0.0316"      # 3 significant digits, as a learner would type
    slider.setValue(250)
    assert form.run.params.values["lr"] == pytest.approx(10 ** -4.5, rel=1e-2)
    type_into(qtbot, form.editors["lr"], "1e-4")
    assert slider.value() == round(1000 * 2 / 6)      # log10(1e-4 / 1e-6) / 6 of the way


def test_integer_sliders_step_through_whole_values(form):
    run = make_run("wgan-gp", "ring8")
    form.set_run(run)
    d_steps, _ = form.sliders["d_steps"]
    assert (d_steps.minimum(), d_steps.maximum(), d_steps.value()) == (1, 50, 5)   # one position per value
    d_steps.setValue(7)
    assert run.params.values["d_steps"] == 7 and form.editors["d_steps"].text() == "7"
    batch, scale = form.sliders["batch_size"]                                        # log, 2..8192
    batch.setValue(scale.position(256))
    assert run.params.values["batch_size"] in (250, 260)        # log-scaled ints: 2 significant digits
    assert isinstance(run.params.values["batch_size"], int)
    assert form.editors["batch_size"].text() == str(run.params.values["batch_size"])


def test_a_value_set_elsewhere_moves_the_slider_on_refresh(form):
    run = make_run()
    form.set_run(run)
    run.set_param("beta", 10.0)                       # e.g. from the CLI or a lesson
    form.refresh()
    assert form.sliders["beta"][0].value() == 500 and form.editors["beta"].text() == "10"


@pytest.mark.parametrize("param", [
    Param("beta", 1.0, min=0.0, max=20.0, live=True),
    Param("lr", 1e-3, min=1e-6, max=1.0, live=True, log=True),
    Param("n", 50, type="int", min=1, max=4000, live=True),
    Param("n", 64, type="int", min=2, max=8192, live=True, log=True),
])
def test_slider_scale_round_trips_to_about_the_same_position(param):
    scale = SliderScale(param)
    lo, hi = scale.positions
    for pos in (lo, (lo + hi) // 3, hi):
        v = scale.value(pos)
        param.validate(v)                              # every slider value is a valid value
        assert abs(scale.position(v) - pos) <= (5 if param.type == "int" and param.log else 1)
    assert scale.value(lo) == param.min and scale.value(hi) == param.max
    if param.log:
        mid = scale.value((lo + hi) // 2)
        assert math.isclose(mid, math.sqrt(param.min * param.max), rel_tol=0.02)

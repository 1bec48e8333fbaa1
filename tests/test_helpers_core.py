"""gradcheck, the check framework's building blocks, widgets, device and setup."""
import numpy as np
import pytest

from helpers import checks, gradcheck


def test_numerical_gradient_matches_analytic():
    x = np.random.default_rng(0).standard_normal((3, 2))
    numeric = gradcheck.numerical_gradient(lambda: float(np.sum(x**3)), x)
    assert gradcheck.relative_error(numeric, 3 * x**2) < 1e-7


def test_numerical_gradient_restores_input_and_rejects_ints():
    x = np.array([1.0, 2.0])
    gradcheck.numerical_gradient(lambda: float(x @ x), x)
    assert x.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError):
        gradcheck.numerical_gradient(lambda: 0.0, np.array([1, 2]))


def test_relative_error_detects_differences():
    assert gradcheck.relative_error(np.ones(3), np.ones(3)) == 0.0
    assert gradcheck.relative_error(np.ones(3), -np.ones(3)) == 1.0
    with pytest.raises(ValueError, match="shapes"):
        gradcheck.relative_error(np.ones(3), np.ones(4))
    errors = gradcheck.compare_gradients({"W": np.ones(2)}, {"W": np.ones(2) * 1.1})
    assert 0.04 < errors["W"] < 0.05


@pytest.mark.parametrize(
    "value, pattern",
    [
        (None, "None"),
        ("text", "should be an array"),
        ([[1.0, 2.0], [3.0]], "could not be turned"),
        (np.array([1, 2]), "dtype int"),
        (np.array([1.0, np.nan]), "NaN"),
        (np.array([1.0, np.inf]), "inf"),
        (np.ones((3, 2)), r"shape \(2, 3\), got \(3, 2\) — transposed"),
    ],
)
def test_as_array_rejects_bad_values(value, pattern):
    with pytest.raises(checks.ExerciseFailed, match=pattern):
        checks.as_array(value, "x", (2, 3) if pattern.startswith("shape") else None)


@pytest.mark.parametrize(
    "actual, pattern",
    [
        (-np.arange(1.0, 5.0), "wrong sign"),
        (np.zeros(4), "every value is zero"),
        (2 * np.arange(1.0, 5.0), "factor of 2"),
        (np.array([1.0, 2.0, 3.0, 5.0]), r"largest difference at axis 0 3 .*25% of the values"),
    ],
)
def test_assert_close_diagnoses(actual, pattern):
    with pytest.raises(checks.ExerciseFailed, match=pattern):
        checks.assert_close(actual, np.arange(1.0, 5.0), "y")


def test_assert_close_names_known_mistakes():
    with pytest.raises(checks.ExerciseFailed, match="forgot the bias"):
        checks.assert_close(np.zeros(2), np.ones(2), "y", hints=[(np.zeros(2), "forgot the bias")])
    assert checks.assert_close(np.ones(2), np.ones(2), "y").tolist() == [1.0, 1.0]


def test_assert_close_transposed_square_matrix():
    m = np.arange(4.0).reshape(2, 2)
    with pytest.raises(checks.ExerciseFailed, match="transpose"):
        checks.assert_close(m.T, m, "W")


def test_call_reports_student_exception_with_line():
    def student(x):
        return x.missing_attribute

    with pytest.raises(checks.ExerciseFailed, match=r"raised AttributeError.*line \d+"):
        checks.call(student, 1)


def test_exercise_ids_are_validated_and_unknown_ids_reported():
    with pytest.raises(ValueError):
        checks.exercise("6", "t", "s")
    with pytest.raises(KeyError, match="no check is registered"):
        checks.get("0.99")
    from helpers import check

    with pytest.raises(AttributeError):
        check.ex_0_99
    with pytest.raises(AttributeError):
        check.not_a_check


def test_a_check_that_trips_reports_instead_of_crashing(capsys):
    @checks.exercise("99.1", "test", "never")
    def broken(fn):
        {}["missing"]  # a bug in a check must still read as a message, not a traceback

    try:
        with pytest.raises(checks.ExerciseFailed, match=r"Exercise 99.1: your answer could not be checked: KeyError"):
            broken(lambda: 0)
    finally:
        checks.REGISTRY.pop("99.1")


def test_widget_draws_default_state_when_static(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers import widgets

    monkeypatch.setenv("DLD_STATIC_WIDGETS", "1")
    seen = []

    def draw(rate=0.0, name="", steps=0):
        seen.append((rate, name, steps))
        return plt.figure()

    assert widgets.explore(draw, rate=(0.0, 1.0, 0.1, 0.3), name=["adam", "sgd"], steps=(1, 9)) is None
    assert seen == [(0.3, "adam", 5)]


def test_device_description_names_a_device():
    from helpers import device

    line = device.describe()
    assert line.startswith("Device: ") and ("GPU" in line or "CPU only" in line)
    assert device.strategy() is not None


def test_plots_return_figures():
    import matplotlib

    matplotlib.use("Agg")
    from helpers import plots

    assert plots.loss_curves({"train": [3, 2, 1], "val": [3, 2.5, 2]}).axes
    assert len(plots.image_grid(np.zeros((5, 4, 4)), list("abcde"), columns=3).axes) == 6
    with pytest.raises(ValueError):
        plots.image_grid(np.zeros((0, 4, 4)))


def test_unpack_names_what_was_expected():
    assert checks.unpack((1, 2), "f", ("a", "b")) == (1, 2)
    with pytest.raises(checks.ExerciseFailed, match=r"returned None — did it forget to `return a, b`"):
        checks.unpack(None, "f", ("a", "b"))
    with pytest.raises(checks.ExerciseFailed, match=r"should return 2 values `\(a, b\)`, got 3"):
        checks.unpack((1, 2, 3), "f", ("a", "b"))
    with pytest.raises(checks.ExerciseFailed, match=r"got float"):
        checks.unpack(1.5, "f", ("a", "b"))

"""helpers.dataflow: the cells a set of chosen cells depends on, erring towards keeping."""
from helpers import dataflow

SETUP = "import numpy as np\nimport keras"


def kept(*cells: str, chosen: int = -1) -> list[int]:
    sources = [SETUP, *cells]
    return dataflow.needed(sources, {chosen % len(sources)})


def test_a_definition_the_chosen_cell_reads_is_kept_and_an_unrelated_training_cell_is_not():
    assert kept("W = np.ones(3)", "model = keras.Sequential()\nmodel.fit(x, y)",
                "def answer(a):\n    return a @ W", "check(answer)") == [0, 1, 3, 4]


def test_reads_through_a_function_body_and_its_defaults_are_followed():
    # a default is evaluated when the def runs, so an `offset` defined after it is not needed
    assert kept("scale = 2", "def f(a, k=offset):\n    return a * scale", "offset = 1", "f(1)") == [1, 2, 4]
    assert kept("offset = 1", "def f(a, k=offset):\n    return a", "f(1)") == [1, 2, 3]


def test_mutations_count_as_writes():
    for mutation in ("model.fit(x)", "model.w = 0", "model[0] = 1", "def train(m):\n    m.fit()\ntrain(model)",
                     "del model", "model += 1", "rng.shuffle(model)"):
        assert kept("model = make()", mutation, "use(model)") == [1, 2, 3], mutation


def test_a_name_bound_first_in_the_cell_is_not_read_from_before():
    assert kept("x = expensive()", "x = 1\ny = x + 1") == [2]
    assert kept("x = expensive()", "if c:\n    x = 1\ny = x") == [1, 2]  # x may be unbound
    assert kept("total = 0", "for i in range(3):\n    total += i") == [1, 2]


def test_module_calls_are_pure_but_configuration_is_not():
    assert kept("np.random.seed(0)\nkeras.utils.set_random_seed(0)", "np.zeros(3)") == [0, 2]
    assert kept("np.set_printoptions(precision=3)", "np.zeros(3)") == [0, 1, 2]
    assert kept("keras.config.set_floatx('float64')", "keras.layers.Dense(1)") == [0, 1, 2]


def test_cells_that_cannot_be_analysed_are_always_kept():
    for opaque in ("globals()['w'] = 1", "from math import *", "%time w = 1", "def broken(:", "print(vars())"):
        assert kept("a = 1", opaque, "b = 2", "c = 3") == [0, 1, 2, 4], opaque
    assert kept("a = 1", "print(vars(np))", "b = 2") == [3]


def test_arguments_count_as_written_only_where_a_call_may_modify_them():
    assert dataflow.cell_names("m = list(map(len, words))").writes == {"m"}
    assert dataflow.cell_names("m = rng.choice(words, key=len)").writes == {"m", "rng", "words"}
    assert dataflow.cell_names("m = train(model)", functions={"train"}).writes == {"m", "model"}
    assert dataflow.cell_names("m = apply(f, x)", functions={"f"}).writes == {"m"}


def test_a_loop_variable_is_the_loops_own_but_its_iterable_is_read():
    assert kept("model = expensive()", "for model in models:\n    print(model)\nmodel.summary()") == [2]
    assert kept("xs = [1]", "for x in xs:\n    print(x)") == [1, 2]

"""Widgets built from a plain drawing function.

``explore(draw, rate=(0.01, 1.0, 0.01), optimizer=["adam", "sgd"])`` shows sliders and
dropdowns that redraw ``draw(**values)`` in JupyterLab. Without a live widget front end (CI,
nbval, a static HTML export, or ``DLD_STATIC_WIDGETS=1``) it draws the default state once, so
the same cell always runs the same drawing code and always leaves a picture behind.
"""
from __future__ import annotations

import os
from typing import Any, Callable


def _default(spec: Any) -> Any:
    if isinstance(spec, tuple):
        low, high = spec[0], spec[1]
        return spec[3] if len(spec) > 3 else (low + high) / 2 if isinstance(low, float) else (low + high) // 2
    if isinstance(spec, (list, dict)):
        return list(spec.values())[0] if isinstance(spec, dict) else spec[0]
    return getattr(spec, "value", spec)


def label_width(names: Any) -> str:
    """A CSS width that shows the longest of ``names`` whole as a widget label (ipywidgets cuts
    labels at 80 px by default: "temperat…"). About 0.62 em per character of the UI font."""
    longest = max((len(str(n)) for n in names), default=0)
    return f"{0.62 * longest + 0.8:.1f}em"


def _widget(name: str, spec: Any, width: str):
    import ipywidgets as w

    style = {"description_width": width}
    layout = w.Layout(width=f"calc({width} + 300px)")
    if isinstance(spec, tuple):
        low, high = spec[0], spec[1]
        step = spec[2] if len(spec) > 2 else None
        value = _default(spec)
        if all(isinstance(v, int) for v in (low, high)) and (step is None or isinstance(step, int)):
            return w.IntSlider(value=value, min=low, max=high, step=step or 1, description=name, continuous_update=False,
                               style=style, layout=layout)
        return w.FloatSlider(value=value, min=low, max=high, step=step or (high - low) / 100, description=name,
                             continuous_update=False, style=style, layout=layout)
    if isinstance(spec, (list, dict)):
        return w.Dropdown(options=spec, description=name, style=style, layout=layout)
    return spec  # already a widget, or a fixed value


def live_frontend() -> bool:
    """True inside a Jupyter kernel where widgets can be shown, and not asked to stay static."""
    if os.environ.get("DLD_STATIC_WIDGETS") == "1":
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return shell is not None and "IPKernelApp" in shell.config


def explore(draw: Callable[..., Any], **controls: Any):
    """Show ``draw`` with one control per keyword; (low, high[, step[, default]]) gives a slider,
    a list or dict a dropdown, an ipywidgets widget is used as it is. Without a live widget
    front end the default state is drawn once instead."""
    from IPython.display import display
    import matplotlib.pyplot as plt

    def show(**values: Any) -> None:
        figure = draw(**values)
        if figure is not None:
            display(figure)
            plt.close(figure)

    if not live_frontend():
        show(**{name: _default(spec) for name, spec in controls.items()})
        return None
    import ipywidgets

    width = label_width(controls)
    widget = ipywidgets.interactive(show, **{name: _widget(name, spec, width) for name, spec in controls.items()})
    display(widget)
    return None

"""What the demo does per request, without Gradio: the app (``app.py``) is only layout and wiring.

* :mod:`.validate`  request values -> checked numbers, or ``ValueError`` with the user-facing message
* :mod:`.models`    which models exist, safe loading (config checks, limits), the cached loader
* :mod:`.cpu`       the CPUs a container allows (cgroup quota) and how predictions share them
* :mod:`.sources`   the sequence sources: test set, generator, upload, drawing (built once the horizon is known)
* :mod:`.pipeline`  one prediction (one model or two): checks the horizon, arrays, metrics, files (GIF, MP4, .npy,
                    PNG strips, CSV), the report
* :mod:`.evalset`   evaluate a set: a model and the baselines on an uploaded array of sequences
* :mod:`.api`       the public API as typed functions (the app serves them with ``gr.api``; MCP tools)
* :mod:`.links`     deep links: a URL query -> a view, a result -> the query that reopens it
* :mod:`.cards`     model card and status text, trained ranges
* :mod:`.files`     temporary files, bounded in number and age
* :mod:`.launch`    start the app on a free loopback port and wait for it (tests, benchmarks, scripts)

Every module raises plain ``ValueError`` for bad input; the app turns it into ``gr.Error``.
"""

"""Benchmarks of what users feel: deploy time and cost, against what they would use instead.

Run them all with ``python -m bench`` (``--quick`` for the smallest mode); each module also runs alone
(``python -m bench.lifecycle``, ``bench.cold_start``, ``bench.synth_scaling``, ``bench.plot_timelines``).
Every benchmark prints Markdown tables; none is a timed test. the README's Performance section publishes the figures.
"""

"""Which seeds may be looked at while tuning the detector, and which are kept for evaluation.

Tuning (thresholds, model parameters, allowlists, new detections) may look only at worlds of
``TUNING_SEEDS``: their alerts, misses and false alerts. ``EVALUATION_SEEDS`` are for measuring
a change once it is made; looking at their individual alerts to fix them would turn them into
tuning seeds and the measurement into wishful thinking. The same seeds apply to every style.

    python3 sample_logs/worlds/make_world.py --style saas --seed 1 ...      # tuning
    .venv/bin/python bench/eval_worlds.py --seeds evaluation                # measuring
"""

from __future__ import annotations

STYLES = ("saas", "enterprise", "dataplatform")
TUNING_SEEDS = (1, 2, 3, 4, 5)
EVALUATION_SEEDS = (101, 102, 103, 104, 105)

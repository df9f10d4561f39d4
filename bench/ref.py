"""ref.py is statsmodels' side of bench/run.sh: for each series,
ExponentialSmoothing(trend="add", seasonal="add", seasonal_periods=288)
fitted on the first 2016 points and forecast 288 ahead, timed (median of
REPS runs) and scored by MASE (naive in-sample scale, as bench/hwbench).
Run with Debian's /usr/bin/python3 (python3-statsmodels).

    /usr/bin/python3 bench/ref.py REPS FILE... > sm.csv
"""
import csv
import os
import statistics
import sys
import time
import warnings

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing

warnings.simplefilter("ignore")
reps = int(sys.argv[1])
print("series,sm_ms,sm_mase")
for path in sys.argv[2:]:
    with open(path) as f:
        y = np.array([float(r["value"]) for r in csv.DictReader(f)])
    train, test = y[:2016], y[2016:2016 + 288]
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fit = ExponentialSmoothing(train, trend="add", seasonal="add", seasonal_periods=288).fit()
        fc = fit.forecast(288)
        times.append(1000 * (time.perf_counter() - t0))
    m = np.mean(np.abs(test - fc)) / np.mean(np.abs(np.diff(train)))
    print(f"{os.path.basename(path)},{statistics.median(times):.3f},{m:.6f}", flush=True)

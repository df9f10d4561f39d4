"""gen_statsmodels.py writes the statsmodels ExponentialSmoothing reference
fixtures that model/holtwinters_statsmodels_test.go checks augur's
Holt-Winters against.

Rerun from the repository root with Debian's Python and statsmodels
(python3-statsmodels, 0.13.5 when written; not a pyenv/venv python3):

    /usr/bin/python3 model/testdata/gen_statsmodels.py model/testdata

The inputs are the series of the R fixtures (hw_<series>_input.csv, written
by gen_reference.R). Every case fits its series without the last 24 points
(held out for the accuracy comparison) and writes

  sm_<case>_params.csv  "name,value": n (points fitted), period,
                        damped (0/1), smoothing_level, smoothing_trend,
                        smoothing_seasonal, damping_trend (1 when not damped),
                        initial_level, initial_trend, s0..s<period-1>
                        (initial_seasons; s<i> is the seasonal term of y[i]),
                        sse;
  sm_<case>_fitted.csv  "t,fitted": fittedvalues (one-step predictions);
  sm_<case>_forecast.csv "h,forecast": forecast(24).

statsmodels' recursions (holtwinters/model.py, _predict, seasonal="add"):

  l_t = a (y_t - s_{t-m}) + (1-a)(l_{t-1} + phi b_{t-1})
  b_t = b (l_t - l_{t-1}) + (1-b) phi b_{t-1}
  s_t = g (y_t - l_{t-1} - phi b_{t-1}) + (1-g) s_{t-m}

so smoothing_trend is R's beta (Holt's form, not Hyndman's beta* = alpha
beta, although statsmodels bounds it by smoothing_level) and
smoothing_seasonal is Hyndman's gamma* = R's gamma (1 - alpha).
statsmodels 0.13.5 forecasts h = m, 2m, ... with the seasonal term from
before the last observation's update (statsmodels/statsmodels#9538, fixed by
#10230); the fixtures keep its output and the Go test corrects for it. The
synthetic288 fit ends with a ConvergenceWarning; its parameters still
reproduce its fitted values, which is all the fixture is for.
Values are printed with 17 significant digits so that they round-trip.
"""

import csv
import os
import sys

import numpy as np
import statsmodels
from statsmodels.tsa.holtwinters import ExponentialSmoothing

HOLDOUT = 24


def fmt(v):
    return "%.17g" % v


def read_series(out, series):
    with open(os.path.join(out, "hw_%s_input.csv" % series)) as f:
        rows = list(csv.reader(f))[1:]
    return np.array([float(r[0]) for r in rows])


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_case(out, case, series, period, damped, init):
    y = read_series(out, series)[:-HOLDOUT]
    model = ExponentialSmoothing(
        y,
        trend="add",
        damped_trend=damped,
        seasonal="add",
        seasonal_periods=period,
        initialization_method=init,
    )
    fit = model.fit()
    p = fit.params
    phi = p["damping_trend"] if damped else 1.0
    season = np.asarray(p["initial_seasons"])
    params = [
        ("n", len(y)),
        ("period", period),
        ("damped", int(damped)),
        ("smoothing_level", p["smoothing_level"]),
        ("smoothing_trend", p["smoothing_trend"]),
        ("smoothing_seasonal", p["smoothing_seasonal"]),
        ("damping_trend", phi),
        ("initial_level", p["initial_level"]),
        ("initial_trend", p["initial_trend"]),
    ]
    params += [("s%d" % i, v) for i, v in enumerate(season)]
    params.append(("sse", fit.sse))
    base = os.path.join(out, "sm_%s" % case)
    write_csv(base + "_params.csv", ["name", "value"], [(k, fmt(v)) for k, v in params])
    write_csv(
        base + "_fitted.csv",
        ["t", "fitted"],
        [(i, fmt(v)) for i, v in enumerate(np.asarray(fit.fittedvalues))],
    )
    write_csv(
        base + "_forecast.csv",
        ["h", "forecast"],
        [(i + 1, fmt(v)) for i, v in enumerate(np.asarray(fit.forecast(HOLDOUT)))],
    )
    print(
        "%s: alpha=%.4f beta=%.4f gamma=%.4f phi=%.4f sse=%.6g"
        % (case, p["smoothing_level"], p["smoothing_trend"], p["smoothing_seasonal"], phi, fit.sse)
    )


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    print("statsmodels", statsmodels.__version__)
    # Initial states estimated jointly with the smoothing parameters
    # (statsmodels' recommended initialization).
    write_case(out, "co2", "co2", 12, False, "estimated")
    write_case(out, "co2_damped", "co2", 12, True, "estimated")
    write_case(out, "synthetic24", "synthetic24", 24, False, "estimated")
    write_case(out, "synthetic24_damped", "synthetic24", 24, True, "estimated")
    # Period 288 with Hyndman's heuristic initial states (estimating 290
    # initial states is slow and no more instructive).
    write_case(out, "synthetic288", "synthetic288", 288, False, "heuristic")


if __name__ == "__main__":
    main()

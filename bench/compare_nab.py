"""compare_nab.py joins `augur backtest --format=csv` with bench/nab_r.R's
output and prints per-file MASE side by side, the sums over files, and
whether augur meets the target: summed MASE no worse than the best of R's
HoltWinters, forecast::ets and seasonal naive, one step and h steps ahead.

    python3 bench/compare_nab.py augur.csv r.csv
"""
import csv
import sys


def main(augur_path, r_path):
    with open(augur_path) as f:
        aug = {r["series"]: r for r in csv.DictReader(f)}
    with open(r_path) as f:
        rr = {r["series"]: r for r in csv.DictReader(f)}
    names = sorted(set(aug) & set(rr))
    models = ["augur", "hw", "ets", "snaive"]
    sums = {(m, k): 0.0 for m in models for k in ("1", "h")}
    print(f"{'series':58s} {'h':>3s} {'augur model':>18s} " +
          " ".join(f"{m + '@' + k:>9s}" for k in ("1", "h") for m in models) + f" {'cov@1':>6s} {'cov@h':>6s}")
    for n in names:
        a, r = aug[n], rr[n]
        vals = {("augur", "1"): float(a["mase_1"]), ("augur", "h"): float(a["mase_h"])}
        for m in models[1:]:
            for k in ("1", "h"):
                vals[(m, k)] = float(r[f"{m}_mase_{k}"])
        for key, v in vals.items():
            sums[key] += v
        print(f"{n:58s} {a['h']:>3s} {a['model']:>18s} " +
              " ".join(f"{vals[(m, k)]:9.3f}" for k in ("1", "h") for m in models) +
              f" {float(a['coverage_1']):6.1f} {float(a['coverage_h']):6.1f}")
    ov = aug.get("overall")
    print(f"{'sum over ' + str(len(names)) + ' files':58s} {'':>3s} {'':>18s} " +
          " ".join(f"{sums[(m, k)]:9.3f}" for k in ("1", "h") for m in models) +
          (f" {float(ov['coverage_1']):6.1f} {float(ov['coverage_h']):6.1f}" if ov else ""))
    ok = True
    for k, label in (("1", "one step"), ("h", "one hour")):
        best = min(models[1:], key=lambda m: sums[(m, k)])
        good = sums[("augur", k)] <= sums[(best, k)]
        ok &= good
        print(f"{label:9s}: augur {sums[('augur', k)]:.3f} vs best R ({best}) {sums[(best, k)]:.3f}: "
              f"{'met' if good else 'NOT met'} (ratio {sums[('augur', k)] / sums[(best, k)]:.3f})")
    if ov:
        for k, label in (("1", "one step"), ("h", "one hour")):
            c = float(ov[f"coverage_{k}"])
            print(f"{label:9s}: 95% interval coverage pooled {c:.1f}%: {'met' if 93 <= c <= 97 else 'NOT met'} (target 93-97)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

"""A small client for augur's REST and Prometheus-compatible APIs, shared by
the notebooks in this folder.

    import augur_client as ac
    augur = ac.connect()          # the augur on $AUGUR_URL, or a demo one started here
    augur.get("/api/v1/failures")

connect() uses the augur that answers /-/ready on $AUGUR_URL (default
http://127.0.0.1:9477). When none does, it builds augur from this repository
(`go build ./cmd/augur` into a temporary folder), starts
`augur serve` on the embedded demo with a fixed anchor (DEMO_START, so every
run shows the same fleet), waits until it is ready and stops it when the
kernel exits (or on augur.stop()).

Only the standard library, requests and pandas: the Debian packages
python3-requests and python3-pandas.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import requests

DEFAULT_URL = "http://127.0.0.1:9477"
# The demo's present when a notebook starts its own augur: a fixed anchor
# replays the same fleet (history, scripted failures) on every run.
DEMO_START = "2026-01-19T00:00:00Z"

_tmp = None  # temporary folder holding the built binary and the demo's store


def repo_root():
    """The augur repository: $AUGUR_REPO, else the nearest parent of the
    working directory (or of this file) whose go.mod is augur's."""
    if os.environ.get("AUGUR_REPO"):
        return Path(os.environ["AUGUR_REPO"]).resolve()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for d in (start, *start.parents):
            gomod = d / "go.mod"
            if gomod.is_file() and "module github.com/augur-sre/augur" in gomod.read_text():
                return d
    raise RuntimeError("cannot find the augur repository: set AUGUR_REPO")


def _tmpdir():
    global _tmp
    if _tmp is None:
        _tmp = tempfile.mkdtemp(prefix="augur-notebook-")
        atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
    return Path(_tmp)


_binary = None


def augur_binary():
    """Path of an augur binary built from this repository (built once per kernel)."""
    global _binary
    if _binary is None:
        out = _tmpdir() / "augur"
        try:
            subprocess.run(["go", "build", "-o", str(out), "./cmd/augur"], cwd=repo_root(),
                           check=True, capture_output=True, text=True)
        except FileNotFoundError:
            raise RuntimeError("go is not on PATH: it is needed to build augur") from None
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"go build ./cmd/augur failed:\n{e.stderr}") from None
        _binary = out
    return _binary


def run_augur(*args, timeout=300):
    """Run `augur ARGS...` from the repository root and return its standard
    output; raises with its standard error when it fails."""
    p = subprocess.run([str(augur_binary()), *args], cwd=repo_root(),
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"augur {' '.join(args)} exited with {p.returncode}:\n{p.stderr[-4000:]}")
    return p.stdout


def _die_with_parent():
    # Linux: SIGTERM the child when the kernel dies, however it dies.
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _port_free(host, port):
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def _free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class APIError(RuntimeError):
    pass


class Augur:
    """A connection to one augur; proc is the process when this kernel started it."""

    def __init__(self, url, proc=None, log=None):
        self.url = url.rstrip("/")
        self.proc = proc
        self.log = log
        self.http = requests.Session()

    def __repr__(self):
        how = f"started here, pid {self.proc.pid}" if self.proc else "already running"
        return f"<augur at {self.url} ({how})>"

    # -- HTTP ---------------------------------------------------------------

    def get(self, path, **params):
        """GET an /api/v1 endpoint and return its "data"; raises APIError with
        augur's errorType and message on an error reply."""
        r = self.http.get(self.url + path, params=params, timeout=60)
        try:
            body = r.json()
        except ValueError:
            raise APIError(f"GET {r.url}: HTTP {r.status_code}: {r.text[:500]}") from None
        if body.get("status") != "success":
            raise APIError(f"GET {r.url}: HTTP {r.status_code} {body.get('errorType')}: {body.get('error')}")
        for w in body.get("warnings") or []:
            print(f"augur warning: {w}", file=sys.stderr)
        return body["data"]

    def ready(self):
        try:
            return self.http.get(self.url + "/-/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    # -- the REST API as DataFrames ----------------------------------------

    def targets(self):
        """/api/v1/targets: one row per series (signal, labels, model, parameters, ...)."""
        rows = []
        for sig in self.get("/api/v1/targets")["signals"]:
            for s in sig.get("series") or []:
                row = {"signal": sig["signal"], "health": sig.get("health")}
                row.update({k: v for k, v in s["labels"].items() if k != "signal"})
                row.update({k: v for k, v in s.items() if k not in ("labels",)})
                for k in ("last_sample", "last_fit"):
                    if row.get(k):
                        row[k] = pd.Timestamp(row[k])
                rows.append(row)
        return pd.DataFrame(rows)

    def now(self):
        """augur's present: the newest sample it has seen (the demo's clock,
        not the wall clock)."""
        return self.targets()["last_sample"].max()

    def incidents(self):
        df = pd.DataFrame(self.get("/api/v1/incidents"))
        if df.empty:
            return pd.DataFrame(columns=["entity", "name", "signal", "start", "end", "source"])
        for k in ("start", "end"):
            df[k] = pd.to_datetime(df[k], utc=True)
        return df

    def forecast(self, match, horizon="1h", step=None, level=None):
        """/api/v1/forecast: {series labels tuple: (model, DataFrame time/forecast/lower/upper)}."""
        params = {"match": match, "horizon": horizon}
        if step:
            params["step"] = step
        if level:
            params["level"] = level
        out = []
        for f in self.get("/api/v1/forecast", **params):
            df = pd.DataFrame(f["points"])
            df["time"] = pd.to_datetime(df["time"], utc=True)
            out.append((f["labels"], f["model"], df.set_index("time")))
        return out

    def capacity(self, **params):
        """/api/v1/capacity as a DataFrame, ETAs in hours (NaN: beyond the horizon)."""
        data = self.get("/api/v1/capacity", **params)
        rows = []
        for s in data["series"]:
            row = dict(s["labels"])
            row.update(threshold=s["threshold"], value=s["value"],
                       crossing_probability=s["crossing_probability"],
                       growth_per_day=s.get("growth_per_day"))
            for q, v in s["eta_seconds"].items():
                row[f"eta_{q}_h"] = float("nan") if v is None else v / 3600
            ah = s.get("at_horizon") or {}
            row.update({f"at_horizon_{k}": v for k, v in ah.items()})
            rows.append(row)
        return data["horizon"], pd.DataFrame(rows)

    # -- the Prometheus-compatible API --------------------------------------

    def query_range(self, query, start, end, step="60s"):
        """/api/v1/query_range as a long DataFrame: one column per label, then
        time (UTC) and value."""
        ts = lambda t: pd.Timestamp(t).isoformat().replace("+00:00", "Z")
        data = self.get("/api/v1/query_range", query=query, start=ts(start), end=ts(end), step=step)
        frames = []
        for r in data["result"]:
            df = pd.DataFrame(r["values"], columns=["time", "value"])
            df["time"] = pd.to_datetime(df["time"].astype(float), unit="s", utc=True)
            df["value"] = df["value"].astype(float)
            for k, v in r["metric"].items():
                df[k] = v
            frames.append(df)
        if not frames:
            return pd.DataFrame(columns=["__name__", "time", "value"])
        return pd.concat(frames, ignore_index=True)

    def series(self, query, start, end, step="60s"):
        """query_range for a query that selects one series: a pandas Series indexed by time."""
        df = self.query_range(query, start, end, step)
        n = df.drop(columns=["time", "value"]).drop_duplicates().shape[0] if not df.empty else 0
        if n != 1:
            raise APIError(f"{query} selects {n} series, want one")
        return df.set_index("time")["value"].rename(df["__name__"].iloc[0])

    # -- lifecycle ------------------------------------------------------------

    def stop(self):
        """Stop augur if this kernel started it (idempotent)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def connect(url=None, start_timeout=90):
    """The augur answering on url (default $AUGUR_URL or DEFAULT_URL), or one
    started here on the embedded demo (anchored at DEMO_START) when none
    answers. A started augur listens on url's port when it is free, else on
    a free port, and stops when the kernel exits."""
    url = url or os.environ.get("AUGUR_URL") or DEFAULT_URL
    a = Augur(url)
    if a.ready():
        return a
    u = urlparse(url)
    host = u.hostname or "127.0.0.1"
    if host == "localhost":
        host = "127.0.0.1"
    port = u.port or 9477
    if not _port_free(host, port):
        port = _free_port(host)
    binary = augur_binary()
    store = _tmpdir() / f"store-{port}"
    store.mkdir()
    log = _tmpdir() / f"augur-{port}.log"
    cmd = [str(binary), "serve", f"--web.listen-address={host}:{port}",
           f"--storage.path={store}", f"--demo.start={DEMO_START}"]
    with open(log, "w") as logf:
        proc = subprocess.Popen(cmd, cwd=repo_root(), stdout=logf, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)
    a = Augur(f"http://{host}:{port}", proc, log)
    atexit.register(a.stop)
    deadline = time.monotonic() + start_timeout
    while not a.ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            a.stop()
            raise RuntimeError(f"augur did not become ready ({' '.join(cmd)}):\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return a


def wait_for_log(augur, pattern, timeout=60):
    """Wait until the log of an augur started here matches pattern (e.g.
    "replay done"); returns at once for an augur started elsewhere."""
    if augur.log is None:
        return
    deadline = time.monotonic() + timeout
    while not re.search(pattern, augur.log.read_text()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {pattern!r} in augur's log after {timeout}s")
        time.sleep(0.5)


# -- parsing augur's text reports --------------------------------------------


def _table(lines, header_re):
    """Rows of a whitespace-aligned table starting at the line matching
    header_re, until a line with another number of columns (a blank line, a
    trailing note). Columns are split at runs of two or more spaces (cells
    like "raw -0.44 (4 FP)" hold single spaces)."""
    split = lambda l: re.split(r"\s{2,}", l.strip())
    for i, line in enumerate(lines):
        if re.match(header_re, line.strip()):
            head = split(line)
            rows = []
            for l in lines[i + 1:]:
                row = split(l)
                if len(row) != len(head):
                    break
                rows.append(row)
            return head, rows
    raise ValueError(f"no table with header {header_re!r}")


def parse_nab(text):
    """`augur nab` output → (profiles, categories) DataFrames. A category
    without anomaly windows has no normalised score (NaN); its raw score and
    false positives are kept in *_raw columns."""
    lines = text.splitlines()
    head, rows = _table(lines, r"profile\s+threshold")
    profiles = pd.DataFrame(rows, columns=head).set_index("profile").astype(float)
    head, rows = _table(lines, r"category\s+windows")
    cats = pd.DataFrame(rows, columns=head).set_index("category")
    cats["windows"] = cats["windows"].astype(int)
    for p in profiles.index:
        raw = cats[p].where(cats[p].str.startswith("raw"))
        cats[p + "_raw"] = raw
        cats[p] = pd.to_numeric(cats[p], errors="coerce")
    return profiles, cats


def _duration(s):
    """Go duration text (1h8m0s, 41m0s, -) → minutes (NaN for -)."""
    if s in ("-", ""):
        return float("nan")
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?", s)
    if not m:
        raise ValueError(f"bad duration {s!r}")
    h, mi, se = (float(x) if x else 0.0 for x in m.groups())
    return 60 * h + mi + se / 60


def parse_evaluate(text):
    """`augur evaluate` output → dict with summary (dict), reliability and
    incidents (DataFrames; lead_time_min NaN when not predicted)."""
    lines = text.splitlines()
    summary = {}
    for l in lines:
        for key, pat, conv in (
            ("scored", r"^scored (\S+) \.\. (\S+)", lambda m: (m.group(1), m.group(2))),
            ("brier", r"^Brier score\s+([\d.]+)", lambda m: float(m.group(1))),
            ("precision", r"^precision\s+([\d.]+) \((\d+) alarms\)", lambda m: float(m.group(1))),
            ("alarms", r"^precision\s+([\d.]+) \((\d+) alarms\)", lambda m: int(m.group(2))),
            ("recall", r"^recall\s+([\d.]+) \((\d+) incidents\)", lambda m: float(m.group(1))),
            ("incidents", r"^recall\s+([\d.]+) \((\d+) incidents\)", lambda m: int(m.group(2))),
            ("median_lead_time_min", r"^median lead time\s+(\S+)", lambda m: _duration(m.group(1))),
            ("threshold", r"alert threshold ([\d.]+)", lambda m: float(m.group(1))),
        ):
            m = re.search(pat, l)
            if m:
                summary[key] = conv(m)
    head, rows = _table(lines, r"reliability\s+predictions")
    rel = pd.DataFrame(rows, columns=head)
    rel = rel.rename(columns={"reliability": "bin"})
    for c in ("predictions", "mean predicted", "observed"):
        rel[c] = pd.to_numeric(rel[c])
    head, rows = _table(lines, r"incident\s+entity\s+start")
    inc = pd.DataFrame(rows, columns=head)
    inc["start"] = pd.to_datetime(inc["start"], utc=True)
    inc["predicted"] = inc["predicted"] == "true"
    inc["lead_time_min"] = inc["lead time"].map(_duration)
    return {"summary": summary, "reliability": rel, "incidents": inc}


# -- figures ------------------------------------------------------------------


def save_figure(fig, name):
    """Save fig as $AUGUR_SAVE_FIGURES/notebook-<name>.png when that variable
    is set (scripts/notebooks.sh sets it to refresh docs/); else do nothing."""
    d = os.environ.get("AUGUR_SAVE_FIGURES")
    if not d:
        return None
    d = Path(d)
    if not d.is_absolute():
        d = repo_root() / d
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"notebook-{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
    print(f"saved {path}")
    return path

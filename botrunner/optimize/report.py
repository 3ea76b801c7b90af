"""The search's ``report.html``: one self-contained page, drawn with the backtest report's uPlot.

Sections: the search (bot, objective, constraints, folds, trial outcomes by worker); the overfitting warning when
the best trial's out-of-sample score falls below the configured share of its in-sample one; the top trials with
every figure in and out of sample; the optimisation history (each completed trial's score and the best so far);
parameter importance; each parameter against the score; the equity of the best configuration over the whole
window with its out-of-sample windows shaded; the best configuration's bot file. The page inlines uPlot
(``botrunner/web_static``) and its own script (``report.js`` here); nothing is fetched. ``render`` is pure.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from botrunner.backtest.engine import BacktestResult
from botrunner.backtest.report import STATIC_DIR, keep_indices
from botrunner.core.precision import QUOTE_PRECISION

from .evaluate import Figures
from .results import Ranked, outcome, reason
from .search import Search

_SCRIPT: Final = Path(__file__).resolve().with_name("report.js")
EQUITY_BUCKETS: Final = 2000
MAX_TRIAL_ROWS: Final = 500  # the trial list (most recent); charts use every trial


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | None, places: int = 2, suffix: str = "") -> str:
    return "–" if value is None else f"{value:,.{places}f}{suffix}"


def _figure_cells(f: Figures | None) -> str:
    if f is None:
        return "<td>–</td>" * 6
    return "".join(
        f"<td>{c}</td>"
        for c in (
            _num(f.return_pct, 2, " %"),
            _num(f.sharpe),
            _num(f.sortino),
            _num(f.calmar),
            _num(f.max_drawdown_pct, 2, " %"),
            f"{f.round_trips:,}",
        )
    )


_FIGURE_HEADS: Final = (
    "<th>return</th><th>Sharpe</th><th>Sortino</th><th>Calmar</th><th>max DD</th><th>round trips</th>"
)


def _mean_figures(rows: Sequence[Figures]) -> Figures | None:
    if not rows:
        return None

    def avg(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return sum(present) / len(present) if len(present) == len(values) else None

    return Figures(
        start=rows[0].start,
        end=rows[-1].end,
        return_pct=sum(f.return_pct for f in rows) / len(rows),
        pnl_usd=sum(f.pnl_usd for f in rows),
        sharpe=avg([f.sharpe for f in rows]),
        sortino=avg([f.sortino for f in rows]),
        calmar=avg([f.calmar for f in rows]),
        max_drawdown_pct=max(f.max_drawdown_pct for f in rows),
        round_trips=sum(f.round_trips for f in rows),
        fills=sum(f.fills for f in rows),
    )


def _top_table(search: Search, best: Sequence[Ranked]) -> str:
    if not best:
        return '<p class="note">No trial completed: every one was pruned, rejected or invalid (see the trials).</p>'
    paths = [p.path for p in search.space.params]
    head = "".join(f"<th>{_esc(p)}</th>" for p in paths)
    rows = []
    for r in best:
        span = 2 * (1 + len(search.folds))
        flag = '<span class="neg">overfit?</span>' if r.overfit else '<span class="pos">ok</span>'
        lead = [
            str(r.trial.number),
            _num(r.trial.value, 4),
            f'{_num(r.is_score, 4)} → {_num(r.oos_score, 4)}<br><span class="hint">{_esc(r.compared_on)}</span>',
            flag,
            *(_esc(r.values[p]) for p in paths),
        ]
        cells = "".join(f'<td rowspan="{span}">{c}</td>' for c in lead)
        rows.append(
            f'<tr class="first">{cells}<th>in sample, mean</th>{_figure_cells(_mean_figures(r.in_sample))}</tr>'
        )
        for i, f in enumerate(r.in_sample):
            rows.append(f"<tr><th>in sample, fold {i + 1}</th>{_figure_cells(f)}</tr>")
        rows.append(f'<tr class="oos"><th>out of sample, mean</th>{_figure_cells(_mean_figures(r.out_of_sample))}</tr>')
        for i, f in enumerate(r.out_of_sample):
            rows.append(f'<tr class="oos"><th>out of sample, fold {i + 1}</th>{_figure_cells(f)}</tr>')
    return (
        '<div class="scroll"><table class="grid top"><thead><tr><th>trial</th><th>score</th>'
        f"<th>in → out of sample</th><th>flag</th>{head}<th>window</th>{_FIGURE_HEADS}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _kv(rows: Sequence[tuple[str, str]]) -> str:
    return (
        '<table class="kv">' + "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows) + "</table>"
    )


def _search_table(search: Search, doc: Mapping[str, Any]) -> str:
    c = search.constraints
    trials = doc["trials"]
    rows = [
        ("bot file", search.bot_source),
        ("study", f"{doc['study']} in {doc['storage']}"),
        ("objective", f"{search.objective.value}, mean over the in-sample windows (maximised)"),
        ("window", f"{doc['window']['from']} → {doc['window']['to']}"),
        (
            "max drawdown",
            "–" if c.max_drawdown_bps is None else f"{c.max_drawdown_bps / 100:g} % in any in-sample fold",
        ),
        ("min round trips", f"{c.min_round_trips} over the in-sample folds"),
        ("seed, lag", f"{search.seed}, {search.lag}"),
        (
            "trials",
            f"{trials['requested']} requested: {trials['complete']} complete, {trials['pruned']} pruned (median), "
            f"{trials['rejected']} rejected (constraints), {trials['invalid']} invalid, {trials['failed']} failed",
        ),
        ("workers", ", ".join(f"{w}: {n}" for w, n in doc["workers"].items()) or "–"),
    ]
    folds = "".join(
        f"<tr><td>{i + 1}</td><td>{_esc(f['in_sample']['from'])} → {_esc(f['in_sample']['to'])}</td>"
        f"<td>{_esc(f['out_of_sample']['from'])} → {_esc(f['out_of_sample']['to'])}</td></tr>"
        for i, f in enumerate(doc["folds"])
    )
    space = "".join(
        f"<tr><td>{_esc(p['path'])}</td><td>{_esc(_range_text(p))}</td></tr>" for p in search.space.describe()
    )
    return (
        _kv(rows)
        + '<table class="grid"><caption>Walk-forward folds</caption><thead><tr><th>fold</th><th>in sample</th>'
        f"<th>out of sample</th></tr></thead><tbody>{folds}</tbody></table>"
        '<table class="grid"><caption>Search space</caption><thead><tr><th>path</th><th>range</th></tr></thead>'
        f"<tbody>{space}</tbody></table>"
    )


def _range_text(p: Mapping[str, Any]) -> str:
    if "choices" in p:
        return ", ".join(str(c) for c in p["choices"])
    text = f"{p['low']} … {p['high']} step {p['step']}"
    return text + (" (log)" if p.get("log") else "")


def _trials_table(trials: Sequence[FrozenTrial], search: Search) -> str:
    paths = [p.path for p in search.space.params]
    rows = []
    for t in sorted(trials, key=lambda t: -t.number)[:MAX_TRIAL_ROWS]:
        values = search.space.config_values(t.params) if set(paths) <= t.params.keys() else {}
        cells = "".join(f"<td>{_esc(values.get(p, '–'))}</td>" for p in paths)
        why = reason(t) or ""
        rows.append(
            f"<tr><td>{t.number}</td><td>{_esc(outcome(t))}</td>"
            f"<td>{_num(t.value if t.state is TrialState.COMPLETE else None, 4)}</td>{cells}"
            f'<td class="text">{_esc(why)}</td><td class="text">{_esc(t.user_attrs.get("worker", ""))}</td></tr>'
        )
    head = "".join(f"<th>{_esc(p)}</th>" for p in paths)
    return (
        f'<details><summary>{len(trials):,} trials</summary><div class="scroll"><table class="grid"><thead><tr>'
        f"<th>trial</th><th>outcome</th><th>score</th>{head}<th>why</th><th>worker</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div></details>"
    )


def _history(trials: Sequence[FrozenTrial]) -> dict[str, Any]:
    complete = sorted((t for t in trials if t.state is TrialState.COMPLETE), key=lambda t: t.number)
    xs, values, best = [], [], []
    top: float | None = None
    for t in complete:
        assert t.value is not None
        top = t.value if top is None else max(top, t.value)
        xs.append(t.number)
        values.append(t.value)
        best.append(top)
    return {"x": xs, "value": values, "best": best}


def _slices(trials: Sequence[FrozenTrial], search: Search) -> list[dict[str, Any]]:
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    out = []
    for p in search.space.params:
        pairs = sorted(
            (_internal(p.distribution, t.params[p.path]), t.value)
            for t in complete
            if p.path in t.params and t.value is not None
        )
        labels = (
            [str(c) for c in p.distribution.choices] if isinstance(p.distribution, CategoricalDistribution) else None
        )
        out.append({"path": p.path, "x": [a for a, _ in pairs], "y": [b for _, b in pairs], "labels": labels})
    return out


def _internal(distribution: Any, value: Any) -> float:
    return float(distribution.to_internal_repr(value))


def _equity(result: BacktestResult | None, search: Search) -> dict[str, Any] | None:
    if result is None or not result.snapshots:
        return None
    xs = [s.ts for s in result.snapshots]
    equity = [s.equity / QUOTE_PRECISION for s in result.snapshots]
    keep = keep_indices(xs, [equity], EQUITY_BUCKETS)
    return {
        "x": [xs[i] for i in keep],
        "equity": [equity[i] for i in keep],
        "oos": [list(f.out_of_sample) for f in search.folds],
    }


_CSS: Final = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fff;margin:0 auto;
max-width:1240px;padding:16px 24px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#555;margin:0 0 8px}.note{color:#8a5a00;background:#fff8e5;padding:6px 10px;border-radius:4px}
.warn{color:#fff;background:#b3261e;padding:8px 12px;border-radius:4px;font-weight:600}
.caption{color:#666;font-size:12px;margin:2px 0 10px}.hint{color:#888;font-size:11px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px 32px;align-items:start}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin-bottom:10px}
table caption{text-align:left;font-weight:600;padding:0 0 4px}
table.kv th{text-align:left;font-weight:500;color:#444;padding:2px 18px 2px 0;vertical-align:top}
table.kv td{font-family:ui-monospace,Menlo,Consolas,monospace;padding:2px 0}
table.kv tr:nth-child(even){background:#f6f6f6}
table.grid th{font-weight:600;text-align:right;padding:3px 8px;border-bottom:1px solid #bbb;white-space:nowrap}
table.grid tbody th{font-weight:500;color:#444;border:0}
table.grid td{text-align:right;font-family:ui-monospace,Menlo,Consolas,monospace;padding:2px 8px;white-space:nowrap}
table.grid td.text{text-align:left;font-family:inherit;white-space:normal;min-width:200px}
table.top tr.first td,table.top tr.first th{border-top:1px solid #999}
table.top tr.oos{background:#f3f7fb}
td.pos{color:#137a13}td.neg{color:#b3261e;font-weight:600}
.scroll{max-height:620px;overflow:auto;border:1px solid #eee}
details summary{cursor:pointer;color:#1f4e79;margin:4px 0}
pre{background:#f6f6f6;padding:10px;overflow:auto;font-size:12px}
.chart{margin:6px 0 2px}.chart .u-title{font-size:14px;text-align:left;padding-left:8px}
.chart .u-legend{font-size:12px;text-align:left}
.slices{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:8px 24px}
"""


def _json_block(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _inline(code: str) -> str:
    return code.replace("</script", "<\\/script")


def render(
    doc: Mapping[str, Any],
    search: Search,
    *,
    trials: Sequence[FrozenTrial],
    best: Sequence[Ranked],
    best_run: BacktestResult | None,
    best_yaml: str | None,
) -> str:
    """The whole page. ``doc`` is the summary (``results.summary``), ``trials`` the study's trials below the
    requested number, ``best`` the ranked top trials run out of sample, ``best_run`` the best over the window."""
    body = [
        "<header><h1>Parameter search</h1>",
        f'<p class="sub">{_esc(search.bot.name)} · {_esc(search.bot.market)} · {_esc(doc["study"])}<br>'
        f"{_esc(doc['window']['from'])} → {_esc(doc['window']['to'])}</p></header>",
    ]
    if best and best[0].overfit:
        r = best[0]
        body.append(
            f'<p class="warn">Overfitting warning: the best trial ({r.trial.number}) scores {_num(r.oos_score, 4)} '
            f"out of sample against {_num(r.is_score, 4)} in sample ({_esc(r.compared_on)}), below "
            f"{doc['min_oos_share']:.0%} of it. Its in-sample figures do not carry to data it was not fitted on.</p>"
        )
    body.append(f"<section><h2>Search</h2>{_search_table(search, doc)}</section>")
    body.append(
        "<section><h2>Best trials</h2>"
        f'<p class="caption">The {len(best)} best completed trials by in-sample score, each run on every fold\'s '
        "out-of-sample window (shaded rows). Flag: out of sample below "
        f"{doc['min_oos_share']:.0%} of in sample on the figure named under the scores.</p>"
        f"{_top_table(search, best)}</section>"
    )
    charts: dict[str, Any] = {
        "history": _history(trials),
        "importance": doc.get("importance"),
        "slices": _slices(trials, search),
        "equity": _equity(best_run, search),
        "objective": search.objective.value,
    }
    body.append(
        '<section><h2>Optimisation history</h2><div class="chart" id="chart-history"></div>'
        '<p class="caption">Each completed trial\'s in-sample score (dots) and the best so far (line). Pruned, '
        "rejected and invalid trials have no score.</p></section>"
    )
    importance = doc.get("importance")
    body.append(
        "<section><h2>Parameter importance</h2>"
        + (
            '<div class="chart" id="chart-importance"></div><p class="caption">Optuna\'s PED-ANOVA importance over '
            "the completed trials (shares of 1).</p>"
            if importance
            else '<p class="note">Not enough completed trials with varying parameters to measure importance.</p>'
        )
        + '<div class="slices" id="chart-slices"></div></section>'
    )
    if charts["equity"] is not None and best:
        body.append(
            "<section><h2>Equity of the best configuration</h2>"
            '<div class="chart" id="chart-equity"></div>'
            f'<p class="caption">Trial {best[0].trial.number} run once over the whole window (as <code>botrunner '
            "backtest</code> would); shaded: the out-of-sample windows it was not selected on. The fold figures "
            "above are separate runs, each starting flat with the bot's capital.</p></section>"
        )
    if best_yaml is not None:
        body.append(f"<section><h2>Best configuration</h2><pre>{_esc(best_yaml)}</pre></section>")
    body.append(f"<section><h2>Trials</h2>{_trials_table(trials, search)}</section>")
    vendor_css = (STATIC_DIR / "uPlot.min.css").read_text(encoding="utf-8")
    vendor_js = (STATIC_DIR / "uPlot.iife.min.js").read_text(encoding="utf-8")
    title = f"Parameter search — {search.bot.name}"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{vendor_css}</style>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f'\n<script type="application/json" id="report-data">{_json_block(charts)}</script>\n'
        f"<script>{_inline(vendor_js)}</script>\n<script>{_inline(_SCRIPT.read_text(encoding='utf-8'))}</script>\n"
        "</body>\n</html>\n"
    )

"""Charts drawn on the server as inline SVG: readable at a glance, no script, no library.

`bar_chart` draws labelled horizontal bars (tickets per category, per compound);
`column_chart` draws grouped columns over weeks (the trend). Labels are escaped. No `style`
attribute: the Content-Security-Policy allows only the stylesheet (`svg.chart` there shrinks a
chart to a narrow screen).
"""
from markupsafe import Markup, escape

COLORS = ("#b91c1c", "#2563eb", "#059669", "#d97706")
ROW = 26       # height of one bar row
LABEL = 110    # width kept for the labels left of the bars


def bar_chart(items: list[tuple[str, int]], title: str, width: int = 520) -> Markup:
    """Horizontal bars, biggest first, each with its label and value."""
    if not items:
        return Markup(f'<p class="muted">{escape(title)}：没有数据。</p>')
    top = max(value for _, value in items) or 1
    span = width - LABEL - 50
    height = ROW * len(items) + 10
    rows = []
    for n, (label, value) in enumerate(items):
        y = 5 + n * ROW
        length = max(2, round(span * value / top))
        rows.append(
            f'<text x="{LABEL - 8}" y="{y + 17}" text-anchor="end" font-size="13">{escape(label)}</text>'
            f'<rect x="{LABEL}" y="{y + 4}" width="{length}" height="{ROW - 8}" rx="3" fill="{COLORS[0]}"/>'
            f'<text x="{LABEL + length + 6}" y="{y + 17}" font-size="13">{value}</text>')
    return Markup(f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
                  f'width="{width}" class="chart">{"".join(rows)}</svg>')


def column_chart(labels: list[str], series: list[tuple[str, list[int]]], title: str,
                 width: int = 560, height: int = 240) -> Markup:
    """Grouped columns: one group per label (a week), one column per series, with a legend."""
    if not labels:
        return Markup(f'<p class="muted">{escape(title)}：没有数据。</p>')
    top = max((value for _, values in series for value in values), default=0) or 1
    left, bottom, plot_height = 36, height - 28, height - 70
    group = (width - left - 10) / len(labels)
    column = max(4.0, group * 0.7 / len(series))
    parts = [f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="#94a3b8"/>',
             f'<text x="{left - 6}" y="{bottom - plot_height + 4}" text-anchor="end" font-size="11">{top}</text>',
             f'<text x="{left - 6}" y="{bottom + 4}" text-anchor="end" font-size="11">0</text>']
    for n, label in enumerate(labels):
        x0 = left + n * group + group * 0.15
        parts.append(f'<text x="{x0 + column * len(series) / 2:.1f}" y="{bottom + 16}" text-anchor="middle" '
                     f'font-size="11">{escape(label)}</text>')
        for k, (name, values) in enumerate(series):
            h = plot_height * values[n] / top
            parts.append(f'<rect x="{x0 + k * column:.1f}" y="{bottom - h:.1f}" width="{column - 1:.1f}" '
                         f'height="{h:.1f}" fill="{COLORS[k % len(COLORS)]}"><title>{escape(label)} '
                         f'{escape(name)}：{values[n]}</title></rect>')
    for k, (name, _) in enumerate(series):
        parts.append(f'<rect x="{left + k * 110}" y="6" width="12" height="12" fill="{COLORS[k % len(COLORS)]}"/>'
                     f'<text x="{left + k * 110 + 18}" y="17" font-size="12">{escape(name)}</text>')
    return Markup(f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
                  f'width="{width}" class="chart">{"".join(parts)}</svg>')

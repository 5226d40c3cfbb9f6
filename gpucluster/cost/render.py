"""Cost estimates and cost diffs as text tables and as Markdown for pull-request comments."""

from __future__ import annotations

from typing import Any

SCALES = ("min", "desired", "max")


def usd(value: float) -> str:
    return f"${value:,.2f}"


def signed_usd(value: float) -> str:
    """A change in dollars: +$1.00, -$1.00, $0.00."""
    return ("+" if value > 0 else "-" if value < 0 else "") + usd(abs(value))


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    fmt = lambda row: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    return [fmt(header), *(fmt(r) for r in rows)]


def render_cost(cost: dict[str, Any], markdown: bool = False) -> str:
    out = [f"Cost estimate ({cost['currency']}, {cost['hoursPerMonth']} h/month; monthly at min / desired / max)"]
    rows = [[line["name"], line["description"], *(usd(line["monthly"][s]) for s in SCALES)] for line in cost["lines"]]
    total = cost["total"]["monthly"]
    rows.append(["total", "", *(usd(total[s]) for s in SCALES)])
    out += _table(["resource", "what", "min", "desired", "max"], rows, markdown)
    if cost["pools"]:
        out.append("")
        def per_gpu(value: float | None) -> str:
            return usd(value) if value is not None else "not priced"

        pool_rows = [
            [name, f"{pool['gpus']['max']}", f"{pool['gpuHoursPerMonth']['max']:,}",
             per_gpu(pool["onDemandUsdPerGpuHour"]), per_gpu(pool["usdPerGpuHour"])]
            for name, pool in cost["pools"].items()
        ]
        out += _table(["pool", "GPUs at max", "GPU-hours/month at max", "on-demand $/GPU-h", "plan $/GPU-h"], pool_rows, markdown)
    out += _price_age(cost.get("prices"))
    power = cost["power"]
    out += ["", f"Power: {power['kw']['max']:,.1f} kW at max ({power['kwhPerMonth']['max']:,.0f} kWh/month), "
            f"{power['kw']['min']:,.1f} kW at min; {power['assumption']}"]
    if power["unknownFor"]:
        out.append(f"  no board power published for: {', '.join(power['unknownFor'])}")
    if cost["unpriced"]:
        out += ["", f"Unpriced ({len(cost['unpriced'])}), not counted in the total:"]
        out += [f"  - {u['resource'].rsplit('::', 1)[-1]} ({u['type']}): {u['reason']}" for u in cost["unpriced"]]
    return "\n".join(out)


def _price_age(prices: dict[str, Any] | None) -> list[str]:
    """How old the prices are: the oldest source the estimate used, in days before today."""
    if not prices or not prices["oldest"]:
        return []
    oldest = prices["oldest"]
    return ["", f"Prices: {len(prices['sources'])} source(s); the oldest, {oldest['cloud']}/{oldest['source']} dated "
                f"{oldest['date']}, is {prices['oldestAgeDays']:,} day(s) old"]


def diff(base: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """Monthly change per line (by resource name and what it is) and in total, at each scale."""

    def keyed(cost: dict) -> dict[tuple[str, str], dict[str, float]]:
        return {(line["name"], line["kind"]): line["monthly"] for line in cost.get("lines", [])}

    before, after = keyed(base), keyed(head)
    lines = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, {}), after.get(key, {})
        delta = {s: round(new.get(s, 0) - old.get(s, 0), 2) for s in SCALES}
        if any(delta.values()):
            status = "added" if key not in before else "removed" if key not in after else "changed"
            lines.append({"name": key[0], "kind": key[1], "status": status, "before": old, "after": new, "delta": delta})
    total = {s: round(head["total"]["monthly"][s] - base["total"]["monthly"][s], 2) for s in SCALES}
    return {"lines": lines, "total": total, "before": base["total"]["monthly"], "after": head["total"]["monthly"]}


def render_diff(change: dict[str, Any], markdown: bool = False) -> str:
    title = "Monthly cost change (min / desired / max)"
    out = [f"### {title}" if markdown else title]
    rows = [[line["name"], line["status"], *(signed_usd(line["delta"][s]) for s in SCALES)] for line in change["lines"]]
    rows.append(["total", "", *(signed_usd(change["total"][s]) for s in SCALES)])
    out += _table(["resource", "", "min", "desired", "max"], rows, markdown)
    out.append("")
    out.append(f"At max: {usd(change['before']['max'])} -> {usd(change['after']['max'])} per month")
    return "\n".join(out)

"""Profiles (per-node times) and optimizer reports, with text and HTML views."""
import html


class Profile:
    """Per-node times of one run, in execution order: rows of node, op, seconds, shapes."""

    def __init__(self, rows):
        self.rows = rows

    @property
    def total(self):
        return sum(r["seconds"] for r in self.rows)

    def by_op(self):
        """Seconds per operator, largest first."""
        acc = {}
        for r in self.rows:
            acc[r["op"]] = acc.get(r["op"], 0.0) + r["seconds"]
        return dict(sorted(acc.items(), key=lambda kv: -kv[1]))

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __str__(self):
        lines = [f"{'node':32} {'op':22} {'time':>12}"]
        for r in self.rows:
            lines.append(f"{r['node']:32} {r['op']:22} {r['seconds'] * 1e6:10.1f}us")
        lines.append(f"{'total':32} {'':22} {self.total * 1e6:10.1f}us")
        return "\n".join(lines)

    def __repr__(self):
        return f"<Profile {len(self.rows)} nodes, {self.total * 1e6:.1f} us>"

    def _repr_html_(self):
        tot = self.total or 1.0
        rows = "".join(
            f"<tr><td>{html.escape(r['node'])}</td><td>{html.escape(r['op'])}</td>"
            f"<td style='text-align:right'>{r['seconds'] * 1e6:.1f} us</td>"
            f"<td style='text-align:right'>{100 * r['seconds'] / tot:.1f}%</td>"
            f"<td>{html.escape(' '.join(str(s) for s in (r['shapes'] or [])))}</td></tr>" for r in self.rows)
        return (f"<table><caption>Profile: {len(self.rows)} nodes, {self.total * 1e6:.1f} us</caption>"
                f"<tr><th>node</th><th>op</th><th>time</th><th>share</th><th>output shapes</th></tr>{rows}</table>")

    def plot(self, ax=None):
        """A horizontal bar chart of node times (needs matplotlib)."""
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.3 * len(self.rows) + 1))
        ax.barh([f"{r['node']} ({r['op']})" for r in self.rows], [r["seconds"] * 1e6 for r in self.rows])
        ax.invert_yaxis()
        ax.set_xlabel("time (us)")
        return ax


class OptimizationReport:
    """What optimize() did: nodes before and after, and each rewrite that fired."""

    def __init__(self, d):
        self.nodes_before = d["nodes_before"]
        self.nodes_after = d["nodes_after"]
        self.fired = d["fired"] or []

    @property
    def fusions(self):
        return [f for f in self.fired if f["result"]]

    def __repr__(self):
        return (f"<OptimizationReport {self.nodes_before} -> {self.nodes_after} nodes, "
                f"{len(self.fired)} rewrites: {', '.join(f['pass'] for f in self.fired) or 'none'}>")

    def __str__(self):
        lines = [f"nodes: {self.nodes_before} -> {self.nodes_after}"]
        for f in self.fired:
            lines.append(f"  {f['pass']:24} {f['nodes']} -> {f['result'] or '(removed)'}")
        return "\n".join(lines)

    def _repr_html_(self):
        rows = "".join(f"<tr><td>{html.escape(f['pass'])}</td><td>{html.escape(', '.join(f['nodes'] or []))}</td>"
                       f"<td>{html.escape(f['result'] or '(removed)')}</td></tr>" for f in self.fired)
        return (f"<table><caption>Optimizer: {self.nodes_before} &rarr; {self.nodes_after} nodes</caption>"
                f"<tr><th>pass</th><th>matched</th><th>result</th></tr>{rows}</table>")

"""The demo's acceptance figures: per spectrum and family, the assigned x distribution
against the simulated one (total variation), and the fitted instrument against the
simulated one.

Run ``nanoalloy demo --out DIR`` first, then ``python scripts/demo_truth.py DIR``. One
line per spectrum: resolving power error (%), calibration error (ppm), and per family
its share of the simulated cluster signal in the window / the assigned share, and the
TV of its x distribution; ``!`` marks a family holding >= 5 % whose TV exceeds 0.05
(issue 11's rule). The last line counts them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python scripts/demo_truth.py DEMO_OUT_DIR", file=sys.stderr)
        return 2
    root = Path(args[0])
    bad = total = 0
    for part in ("ratios", "timecourse"):
        t = pd.read_csv(root / part / "truth.csv")
        s = pd.read_csv(root / part / "species.csv")
        ins = pd.read_csv(root / part / "truth_instrument.csv")
        for lab, tg in t.groupby("label", sort=False):
            sg = s[s["label"].astype(str) == str(lab)]
            clusters = tg[~tg.family.isin(["fragment", "complex"])]
            got_all = sg[~sg.family.isin(["fragment", "complex"])].abundance.sum()
            out = []
            for fam, tf in clusters.groupby("family"):
                share = tf.abundance.sum() / clusters.abundance.sum()
                sf = sg[sg.family == fam]
                a = tf.set_index("au").abundance / tf.abundance.sum()
                b = (
                    sf.groupby("au").abundance.sum() / sf.abundance.sum()
                    if sf.abundance.sum() > 0
                    else pd.Series(dtype=float)
                )
                tv = 0.5 * a.sub(b, fill_value=0.0).abs().sum()
                got = sf.abundance.sum() / got_all if got_all > 0 else 0.0
                flag = share >= 0.05 and tv > 0.05
                total += share >= 0.05
                bad += flag
                out.append(f"{fam} {share:.2f}/{got:.2f} TV {tv:.3f}{' !' if flag else ''}")
            r = ins[ins["label"].astype(str) == str(lab)].iloc[0]
            print(
                f"{part:10s} {str(lab):8s} R {r.resolution_error_pct:+.1f} % "
                f"ppm {r.ppm_error:+.2f} | " + "; ".join(out)
            )
    print(f"family-spectra >= 5 % above TV 0.05: {bad} of {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write iisignature_reference.npz: iisignature's outputs on fixed inputs.

The signature tests compare against this file on every run, so the cross-check with an
independent implementation does not depend on iisignature being installable (it needs numpy
at build time and no build isolation). Regenerate with iisignature 0.24 installed:

    python tests/data/make_iisignature_reference.py
"""

from pathlib import Path

import iisignature
import numpy as np

CASES = [(1, 4), (2, 3), (3, 4), (10, 2), (4, 4)]
PREFIX_ROWS = (0, 17, 58)


def main() -> None:
    rng = np.random.default_rng(20261202)
    out = {"version": np.array(iisignature.version())}
    for d, depth in CASES:
        key = f"d{d}_n{depth}"
        x = np.cumsum(rng.standard_normal((60, d)), axis=0) + 0.1 * np.arange(60)[:, None]
        xb = rng.standard_normal((4, 10, d))
        s1, s2 = iisignature.sig(x[:30], depth), iisignature.sig(x[29:], depth)
        out[f"{key}_x"] = x
        out[f"{key}_sig"] = iisignature.sig(x, depth)
        out[f"{key}_prefixes"] = iisignature.sig(x, depth, 2)[list(PREFIX_ROWS)]
        out[f"{key}_xb"] = xb
        out[f"{key}_sig_batch"] = iisignature.sig(xb, depth)
        out[f"{key}_s1"], out[f"{key}_s2"] = s1, s2
        out[f"{key}_combined"] = iisignature.sigcombine(s1, s2, d, depth)
    np.savez_compressed(Path(__file__).with_name("iisignature_reference.npz"), **out)


if __name__ == "__main__":
    main()

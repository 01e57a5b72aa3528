"""Why the rough-path norm, not the 1-variation, is the right size of a deep residual network.

Two families of weight sequences, for a growing number of layers L:

- Brownian-scaled weights (i.i.d. Gaussian layers, |W_k| ~ L^-1/2): the 1-variation, which
  drives the classical Gronwall / neural-ODE bounds, grows like sqrt(L); the rough-path norm
  |||X|||_p for p in (2, 3) stays bounded.
- Alternating-sign weights W_k = (-1)^k L^-1/2 M: the level-1 p-variation (p > 2) tends to 0,
  yet the network output moves by an L-independent amount; only the level-2 term sees it.

Run: ``python examples/rough_vs_smooth.py``
"""

import numpy as np

import streamrough as sr


def main(sizes=(64, 256, 1024), width=8, p=2.5):
    rng = np.random.default_rng(0)
    direction = rng.standard_normal((width, width))
    direction /= np.linalg.norm(direction)
    print(f"{'weights':<12} {'L':>6} {'1-variation':>12} {'level 1':>9} {'level 2':>9} {'|||X|||':>9}")
    for n_layers in sizes:
        brownian = sr.brownian_weights(n_layers, width, seed=n_layers)
        alternating = np.array([(-1) ** k / np.sqrt(n_layers) * direction for k in range(n_layers)])
        for name, weights in (("brownian", brownian), ("alternating", alternating)):
            one, rough = sr.rough_pvar(weights, [1.0, p], convention="increments")  # one result per p
            print(
                f"{name:<12} {n_layers:>6} {one.level1:>12.4f} {rough.level1:>9.4f} "
                f"{rough.level2:>9.4f} {rough.norm:>9.4f}"
            )


if __name__ == "__main__":
    main()

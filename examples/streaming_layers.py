"""Follow the p-variation and the rough-path norm of a network while its layers arrive.

Layers are pushed one at a time (as they would be read from a checkpoint or produced during
training); after every push the values equal the offline computation on what has arrived.

Run: ``python examples/streaming_layers.py``
"""

import numpy as np

import streamrough as sr


def main(n_layers=512, width=4, report_every=128):
    weights = sr.brownian_weights(n_layers, width, seed=1)
    level1 = sr.PVarStream([1.0, 2.5])
    level1.push(np.zeros(width * width))  # the increments-convention path starts at 0
    rough = sr.RoughStream(2.5)
    position = np.zeros(width * width)
    for k, layer in enumerate(weights, start=1):
        position += layer.ravel()
        level1.push(position)
        rough.push(layer)
        if k % report_every == 0:
            one, p25 = level1.level1
            print(f"after {k:>4} layers: 1-variation {one:7.4f}  2.5-variation {p25:6.4f}  |||X|||_2.5 {rough.norm:6.4f}")
    offline = sr.rough_pvar(weights, 2.5)
    print(f"offline |||X|||_2.5 = {offline.norm:.12f}, streamed = {rough.norm:.12f}")


if __name__ == "__main__":
    main()

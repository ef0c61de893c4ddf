"""Pictures of the block layouts, drawn from the same ``block_layout`` the attention layer uses."""

from __future__ import annotations

import math
import os

from model.patterns import PATTERNS, AttentionPattern, block_layout


def draw_layouts(path: str, n: int = 4096, block_size: int = 64, causal: bool = False, **settings) -> None:
    """One heat map per pattern: query blocks down, key blocks across, dark = computed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = math.ceil(n / block_size)
    fig, axes = plt.subplots(1, len(PATTERNS), figsize=(2.3 * len(PATTERNS), 2.9))
    for ax, name in zip(axes, PATTERNS):
        pattern = AttentionPattern(name, block_size=block_size, causal=causal, **settings)
        layout = block_layout(pattern, nb)
        ax.imshow(layout.allowed, cmap="Blues", vmin=0, vmax=1.3, interpolation="nearest")
        ax.set_title(f"{name}\n{layout.computed_fraction:.0%} of n²", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    kind = "causal" if causal else "bidirectional"
    fig.suptitle(f"Block layouts at n={n} ({nb} blocks of {block_size}), {kind}: row = query block, "
                 f"column = key block. Reproduce: sparse-edge draw-patterns", fontsize=9)
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)
    plt.close(fig)

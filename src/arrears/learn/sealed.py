"""The sealed worlds a policy is judged on, once per release (``arrears learn evaluate``). Their
seeds are here and nowhere else: the learner's code never imports this module (a test holds
it to that), so nothing it tunes has seen them.

Half are drawn around the defaults like the training worlds (other seeds); the other half are
shifted: hardship 50% more common, and people harder to reach (the contact rate cut by a
third), the changes a portfolio goes through in a downturn.
"""

from __future__ import annotations

from arrears.learn.worlds import World, draw

#: fixed for the release; changing them is a new release of the judge, said in bench/RESULTS.md
SEEDS = (918_273, 640_511, 377_002, 150_883, 802_164, 266_395, 731_940, 495_617, 58_231, 613_778)


def sealed_worlds() -> list[World]:
    half = len(SEEDS) // 2
    base = [draw(f"sealed-{k}", s) for k, s in enumerate(SEEDS[:half])]
    shifted = [
        draw(f"sealed-shifted-{k}", s, hardship_shift=0.5, reach=2 / 3)
        for k, s in enumerate(SEEDS[half:])
    ]
    return base + shifted

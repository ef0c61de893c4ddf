"""A small behavioural suite in the spirit of CheckList (Ribeiro et al. 2020), written for this project.

Accuracy on IMDB says how often a model is right on reviews like IMDB's; this says *what kind* of
sentence it gets wrong. Each capability has hand-written cases of three kinds:

- ``label``: a short review with an obvious sentiment; passes when the model agrees;
- ``invariant``: a labelled review and a variant that must keep its label (filler sentences,
  typos); passes when both are classified as labelled;
- ``directional``: a review and a variant that must move the probability of "positive" one way
  (an intensifier makes a positive review more positive); passes when it moves that way and the
  label stays right.

The suite measures; it is never used to train or tune (no single-case tuning). Every system
(``sparse-edge bench peers``) runs the same cases through a function ``texts -> P(positive)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sparse_edge.reports.tables import load_artifact

POSITIVE, NEGATIVE = 1, 0

PLOT = ("The story follows a retired teacher who moves to a small coastal town after the death of his "
        "brother. He rents a room above a bakery, meets the owner's daughter, and slowly gets to know the "
        "fishermen who gather at the harbour every morning. There is a subplot about a missing boat and an "
        "old feud between two families, and the second half moves to the city, where his nephew works in a "
        "bank. The film runs about two hours and was shot on location over one summer. ")
FILLER = " I watched it on a Tuesday evening with my sister. The cinema was on the corner of Main Street."


@dataclass(frozen=True)
class Case:
    capability: str
    kind: str          # "label", "invariant" or "directional"
    text: str
    label: int
    variant: str = ""  # invariant / directional: the changed text
    direction: int = 0  # directional: +1 the variant must be more positive, -1 less


def _labels(capability: str, rows) -> list[Case]:
    return [Case(capability, "label", text, label) for text, label in rows]


CASES: list[Case] = [
    *_labels("negation", [
        ("This was not a good movie.", NEGATIVE),
        ("The film was not bad at all.", POSITIVE),
        ("I did not like this film.", NEGATIVE),
        ("I did not enjoy a single minute of it.", NEGATIVE),
        ("It is not a masterpiece, but it is not boring either; I liked it.", POSITIVE),
        ("Never have I been so bored in a cinema.", NEGATIVE),
        ("I can't say I disliked it; in fact it was wonderful.", POSITIVE),
        ("Nothing about this movie works.", NEGATIVE),
        ("The acting was not great and the plot was not interesting.", NEGATIVE),
        ("Not once did I look at my watch: a gripping film.", POSITIVE),
    ]),
    *_labels("contrast", [
        ("The first half drags, but the ending is superb.", POSITIVE),
        ("Great cast, but the story is a mess and I was bored.", NEGATIVE),
        ("The effects are cheap, yet the film has real heart and I loved it.", POSITIVE),
        ("It starts well, but it falls apart completely in the last hour.", NEGATIVE),
        ("Critics hated it, but I thought it was a delight from start to finish.", POSITIVE),
        ("Beautiful photography, although the script is dull and the characters are flat.", NEGATIVE),
        ("Despite a slow start, this turns into one of the best films of the year.", POSITIVE),
        ("The trailer promised a fun ride; instead we got two hours of tedium.", NEGATIVE),
    ]),
    *[Case("intensifiers", "directional", text, POSITIVE, variant, +1) for text, variant in [
        ("The movie was good.", "The movie was extremely good."),
        ("A nice film.", "A truly wonderful, really nice film."),
        ("I liked the acting.", "I absolutely loved the acting."),
        ("The ending was satisfying.", "The ending was deeply, immensely satisfying."),
    ]],
    *[Case("intensifiers", "directional", text, NEGATIVE, variant, -1) for text, variant in [
        ("The movie was bad.", "The movie was extremely bad."),
        ("A boring film.", "An incredibly boring, utterly tedious film."),
        ("I disliked the acting.", "I absolutely hated the acting."),
        ("The ending was disappointing.", "The ending was deeply, terribly disappointing."),
    ]],
    *[Case("neutral filler", "invariant", text, label, text + FILLER) for text, label in [
        ("A moving, beautifully acted film that I will remember for a long time.", POSITIVE),
        ("A dull, lifeless film with a script that makes no sense.", NEGATIVE),
        ("One of the funniest comedies I have seen in years.", POSITIVE),
        ("The worst movie I have seen this year, a complete waste of time.", NEGATIVE),
        ("Wonderful music and a clever story; highly recommended.", POSITIVE),
        ("Poorly directed and badly acted; avoid it.", NEGATIVE),
    ]],
    *[Case("typos", "invariant", text, label, variant) for text, variant, label in [
        ("This movie was amazing, I loved every minute.", "This movie was amazng, I lovd evry minute.", POSITIVE),
        ("A terrible film with awful dialogue.", "A terible film with awfull dialoge.", NEGATIVE),
        ("The performances are brilliant and the story is touching.",
         "The performances are brillant and the story is touchng.", POSITIVE),
        ("Boring, predictable and far too long.", "Borring, predictible and far too long.", NEGATIVE),
        ("An excellent, beautiful film.", "An excelent, beautifull film.", POSITIVE),
        ("The plot is stupid and the acting is horrible.", "The plot is stupd and the acting is horible.", NEGATIVE),
    ]],
    *_labels("verdict at the end", [
        (PLOT + "Overall, a waste of time; I would not recommend it to anyone.", NEGATIVE),
        (PLOT + "Overall, a wonderful film; I recommend it to everyone.", POSITIVE),
        (PLOT + "In the end I was bored out of my mind and left disappointed.", NEGATIVE),
        (PLOT + "In the end it moved me to tears, and I loved every minute of it.", POSITIVE),
        (PLOT * 2 + "Sadly, it is dull and badly made.", NEGATIVE),
        (PLOT * 2 + "Happily, it is a gem: funny, warm and beautifully made.", POSITIVE),
    ]),
]

CAPABILITIES = list(dict.fromkeys(case.capability for case in CASES))


def run_suite(positive_probability: Callable[[list[str]], list[float]], cases: list[Case] = CASES) -> dict:
    """Pass rate per capability and the failed cases, for one system's ``texts -> P(positive)``.

    A text is classified positive where the probability is above 0.5 (a tie is negative).
    """
    texts = [case.text for case in cases] + [case.variant for case in cases if case.variant]
    probabilities = dict(zip(texts, (float(p) for p in positive_probability(texts))))
    report = {name: {"passed": 0, "total": 0, "failures": []} for name in CAPABILITIES}
    for case in cases:
        p = probabilities[case.text]
        right = (p > 0.5) == (case.label == POSITIVE)
        if case.kind == "invariant":
            q = probabilities[case.variant]
            passed = right and (q > 0.5) == (case.label == POSITIVE)
        elif case.kind == "directional":
            q = probabilities[case.variant]
            passed = right and (q - p) * case.direction > 0 and (q > 0.5) == (case.label == POSITIVE)
        else:
            q, passed = None, right
        row = report[case.capability]
        row["total"] += 1
        row["passed"] += int(passed)
        if not passed:
            row["failures"].append({"text": case.text[-90:], "variant": case.variant[-90:] or None,
                                    "label": case.label, "p_positive": round(p, 4),
                                    "variant_p_positive": None if q is None else round(q, 4)})
    for row in report.values():
        row["pass_rate"] = round(row["passed"] / row["total"], 4)
    total = sum(r["total"] for r in report.values())
    report["all"] = {"passed": sum(r["passed"] for r in report.values()), "total": total}
    report["all"]["pass_rate"] = round(report["all"]["passed"] / total, 4)
    return report


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
def behaviour() -> str:
    """Pass rates of the behavioural suite per capability and system (artifacts/bench/peers.json)."""
    report = load_artifact("artifacts/bench/peers.json")
    systems = report["systems"]
    capabilities = [c for c in next(iter(systems.values()))["behaviour"] if c != "all"]
    names = [n if systems[n]["kind"] != "tflite" else f"{n.split()[-1]}.tflite" for n in systems]
    lines = ["| capability | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for capability in capabilities + ["all"]:
        cells = [f"{s['behaviour'][capability]['passed']}/{s['behaviour'][capability]['total']}" for s in systems.values()]
        lines.append(f"| {capability} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

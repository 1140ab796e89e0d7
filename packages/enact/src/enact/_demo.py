"""``enact demo``: a haiku generator whose every step is recorded in a store.

The program: :class:`WriteHaiku` takes a season, samples three lines with
:class:`PickLine` (a random choice from a word list: the stand-in for an LLM
call) and asks a person for a title with ``request_input``. The driver
(:func:`run_demo`) shows, in order:

0. on a store that already holds a demo run (tag ``demo/latest``): that run,
   rebuilt from its stored record without sampling or asking again; the new
   run continues the sequence with the next season;
1. a tracked run, which pauses on the input request: its call tree;
2. the request answered (``--answer``, the terminal, or a default) and the
   run continued with ``continue_invocation``;
3. a partial replay: one line's recorded output removed with ``Ref.modify``
   and the run replayed, so that line is resampled and the rest are reused.

The final record is tagged ``demo/latest`` and ``demo/run-N``; the run as
answered, before the partial replay, ``demo/run-N/answered`` (so that
``enact serve`` can show what the replay reused and what it re-ran).
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable
from typing import Any, TextIO

from enact._tree import DEFAULT_WIDTH, short, tree_lines
from enact_invoke import InputRequest, Invocation, Invokable, request_input, typed_invokable
from enact_resource import NoneResource, Resource, Str, register
from enact_store import Ref, Store

__all__ = ["DEFAULT_ANSWER", "Haiku", "PickLine", "WriteHaiku", "run_demo"]

LATEST = "demo/latest"
RUN_TAG = "demo/run-{}"
ANSWERED_TAG = "demo/run-{}/answered"
_RUN_TAG = re.compile(r"demo/run-(\d+)")
DEFAULT_ANSWER = "Untitled"
SEASONS = ("spring", "summer", "autumn", "winter")

# Five-syllable first lines and seven-syllable middle lines for each season;
# the last line comes from one shared list.
FIRST = {
    "spring": [
        "morning frost melting",
        "plum blossoms open",
        "a warm rain at dusk",
        "the creek loud with thaw",
        "new leaves on the oak",
    ],
    "summer": [
        "heat over the road",
        "cicadas at noon",
        "a long afternoon",
        "moths around the lamp",
        "the sea flat as glass",
    ],
    "autumn": [
        "geese high overhead",
        "the first cold morning",
        "apples in the grass",
        "smoke from the chimney",
        "harvest moon rising",
    ],
    "winter": [
        "snow on the doorstep",
        "the pond frozen still",
        "a long winter night",
        "bare trees in the fog",
        "the stove ticks and cools",
    ],
}
MIDDLE = {
    "spring": [
        "a crow calls twice from the pine",
        "the kite string hums in the wind",
        "mud on the boots by the door",
        "swallows stitch the open sky",
        "a frog startles the still pond",
    ],
    "summer": [
        "the dog asleep in the shade",
        "melon seeds spat in the grass",
        "thunder rolls behind the hills",
        "bare feet on the hot stone steps",
        "the ice cream drips on my wrist",
    ],
    "autumn": [
        "red leaves drift across the road",
        "the scarecrow leans in the wind",
        "a spider mends her torn web",
        "the old dog sniffs at the rain",
        "my breath is a small white cloud",
    ],
    "winter": [
        "footprints lead into the wood",
        "a crow on the white fence post",
        "the moon in the water pail",
        "owls call across the valley",
        "someone shovels in the dark",
    ],
}
LAST = [
    "the kettle is warm",
    "nobody answers",
    "I count my own breaths",
    "and then it is gone",
    "the old gate creaks shut",
    "my tea has gone cold",
    "a bell far away",
    "the clock keeps its time",
]


@register
@dataclasses.dataclass
class Haiku(Resource):
    """A titled three-line poem."""

    title: str
    season: str
    lines: list[str]


@typed_invokable(NoneResource, Str)
@dataclasses.dataclass
class PickLine(Invokable[NoneResource, Str]):
    """Samples one line from a list: the generative step (an LLM call in a real program)."""

    options: list[str]

    def call(self) -> Str:
        return Str(random.choice(self.options))


@typed_invokable(Str, Haiku)
@dataclasses.dataclass
class WriteHaiku(Invokable[Str, Haiku]):
    """Writes a haiku about a season: three sampled lines and a title from a person."""

    def call(self, season: Str) -> Haiku:
        lines = [
            PickLine(FIRST[season])(),
            PickLine(MIDDLE[season])(),
            PickLine(LAST)(),
        ]
        # The question depends only on the season, not on the lines, so a
        # replay that resamples a line still matches the recorded request and
        # reuses the answer.
        title = request_input(Str, context=f"Give this {season} haiku a title")
        return Haiku(title=str(title), season=str(season), lines=[str(line) for line in lines])


#: Asks the person at the terminal; returns None at end of input.
Ask = Callable[[str], str | None]


class _Out:
    """Writes the demo's text: section headings and indented lines."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def section(self, title: str) -> None:
        self._stream.write(f"\n== {title}\n")

    def line(self, text: str = "", indent: int = 2) -> None:
        self._stream.write((" " * indent + text).rstrip() + "\n")

    def flush(self) -> None:
        self._stream.flush()


def run_demo(
    store: Store,
    store_label: str,
    *,
    answer: str | None,
    ask: Ask | None,
    out: TextIO,
    seed: int | None = None,
) -> Invocation[Str, Haiku]:
    """Runs the demo against ``store`` and writes its story to ``out``.

    Args:
        store: where the run is recorded; must support tags.
        store_label: how to name the store to the reader (its URL).
        answer: the title to give; None to ask with ``ask`` or use the default.
        ask: prompts the person at the terminal; None when there is none.
        out: where the text goes.
        seed: seeds Python's ``random`` for a reproducible run.

    Returns:
        The final invocation, also tagged ``demo/latest`` and ``demo/run-N``
        (and the run before its partial replay ``demo/run-N/answered``).
    """
    if seed is not None:
        random.seed(seed)
    w = _Out(out)
    with store:
        run = 1 + max((int(m[1]) for t in store.tags if (m := _RUN_TAG.fullmatch(t))), default=0)
        w.line("enact demo: a haiku generator whose every step is recorded", 0)
        w.line(f"store: {store_label} (run {run})", 0)

        season = _previous_run(store, run, w)

        w.section("1. A tracked run")
        w.line("WriteHaiku samples three lines (PickLine, a stand-in for an LLM call), then")
        w.line("asks a person for a title. It ran tracked in the store and paused there:")
        paused = WriteHaiku().invoke(Str(season))
        request = paused.get_raised()
        if not isinstance(request, InputRequest):  # pragma: no cover - the program always asks
            raise RuntimeError(f"the demo program did not pause on an input request: {request!r}")
        w.line()
        for text in tree_lines(store.commit(paused), DEFAULT_WIDTH - 4):
            w.line(text, 4)

        w.section("2. Answering the input request")
        question = str(request.context)
        w.line(f"question: {question}")
        title, source = _answer(answer, ask, question, w)
        w.line(f"answer:   {title!r} ({source})")
        final = request.continue_invocation(paused, Str(title))
        w.line("continue_invocation replayed the run: the three lines came from the")
        w.line("store, and the request got the answer:")
        w.line()
        _print_haiku(final.get_output(), w)

        w.section("3. Partial replay: resample one line, keep the rest")
        replayed = _partial_replay(store, final, (run % 3) + 1, w)

        ref = store.commit(replayed)
        answered = store.commit(final)
        store.tags[LATEST] = ref
        store.tags[RUN_TAG.format(run)] = ref
        store.tags[ANSWERED_TAG.format(run)] = answered
        w.section("Saved")
        w.line(f"tags {LATEST} and {RUN_TAG.format(run)} -> Invocation {short(ref)}")
        w.line(f"tag {ANSWERED_TAG.format(run)} -> {short(answered)}, the run before the replay")
        w.line(f"next: `enact demo` again builds on this run; `enact tree {LATEST}`,")
        w.line(f"`enact show {LATEST} --depth 2`, `enact ls`, `enact verify`;")
        w.line("`enact serve` to browse the runs and diff the replay in a web browser")
        w.flush()
    return replayed


def _previous_run(store: Store, run: int, w: _Out) -> str:
    """Shows the run tagged ``demo/latest``, if any; returns the season for this run."""
    if LATEST not in store.tags:
        return SEASONS[0]
    ref: Ref[Invocation[Str, Haiku]] = store.tags[LATEST]
    haiku = _demo_output(ref)
    if haiku is None:
        w.line(f"(tag {LATEST} does not point at a finished demo run: starting anew)", 0)
        return SEASONS[0]
    previous = ref()
    w.section(f"0. Your previous run (run {run - 1}, tag {LATEST} -> {short(ref)})")
    _print_haiku(haiku, w)
    # Rebuild it: drop the top-level output and replay. Every step has a
    # recorded output, so nothing is sampled or asked again.
    probe = ref()
    with probe.response.modify() as response:
        response.output = None
    rebuilt = store.commit(probe.replay())
    steps = len(previous.response().children)
    outcome = (
        f"the identical record {short(rebuilt)}"
        if rebuilt == ref
        else (f"a different record {short(rebuilt)} (the program changed since)")
    )
    w.line()
    w.line(f"Replayed from the store: WriteHaiku ran again with its {steps} recorded steps")
    w.line(f"reused (nothing sampled or asked), and gave {outcome}.")
    season = SEASONS[(SEASONS.index(haiku.season) + 1) % len(SEASONS)]
    w.line(f"This run writes the next haiku of the sequence: {season} follows {haiku.season}.")
    return season


def _demo_output(ref: Ref[Any]) -> Haiku | None:
    """Returns the haiku of a finished WriteHaiku invocation, or None for anything else."""
    record: object = ref()
    if not isinstance(record, Invocation):
        return None
    response = record.response()
    if not isinstance(record.request().invokable(), WriteHaiku) or response.output is None:
        return None
    output: object = response.output()
    return output if isinstance(output, Haiku) and output.season in SEASONS else None


def _answer(answer: str | None, ask: Ask | None, question: str, w: _Out) -> tuple[str, str]:
    """Returns (the answer, where it came from)."""
    if answer is not None:
        return answer, "from --answer"
    if ask is None:
        return DEFAULT_ANSWER, "the default: no --answer given and stdin is not a terminal"
    w.flush()
    given = ask("  your answer (Enter for the default): ")
    if given is None or not given.strip():
        return DEFAULT_ANSWER, "the default"
    return given.strip(), "typed at the terminal"


def _print_haiku(haiku: Haiku, w: _Out) -> None:
    w.line(haiku.title, 4)
    for text in haiku.lines:
        w.line(text, 6)


def _partial_replay(
    store: Store, final: Invocation[Str, Haiku], line: int, w: _Out
) -> Invocation[Str, Haiku]:
    """Resamples line ``line`` (1-based) of ``final``'s haiku; returns the replayed record."""
    original = final.get_output()
    final_ref = store.commit(final)
    children = final.response().children
    w.line(f"Removed the recorded output of line {line} (PickLine, with Ref.modify) and of")
    w.line("WriteHaiku itself, then replayed: the other calls were reused.")
    partial = final_ref()
    with partial.response.modify() as response:
        response.output = None
        with (
            response.children[line - 1].modify() as child,
            child.response.modify() as child_response,
        ):
            child_response.output = None
    # The sampler may draw the same line again; replaying once more draws anew.
    draws = 0
    while True:
        draws += 1
        replayed = partial.replay()
        new_children = replayed.response().children
        if new_children[line - 1] != children[line - 1] or draws == 20:
            break
    haiku = replayed.get_output()
    w.line()
    for index, (old, new) in enumerate(zip(original.lines, haiku.lines, strict=True), 1):
        reused = new_children[index - 1] == children[index - 1]
        if index == line:
            w.line(f"resampled  {new}   (was: {old})", 4)
        else:
            w.line(f"{'kept' if reused else 'CHANGED':<10} {new}", 4)
    answered = new_children[-1] == children[-1]
    w.line(
        f"{'kept' if answered else 'CHANGED':<10} title {haiku.title!r} (the recorded answer)", 4
    )
    if draws > 1:
        w.line(f"(the sampler drew the old line again; replayed {draws} times to get a new one)")
    return replayed

"""The pipeline of _pipeline_functions written as classes, under the same type names."""

from __future__ import annotations

import dataclasses

import enact

M = "_pipeline_functions"


@enact.register(name=f"{M}.outline.Input")
@dataclasses.dataclass
class OutlineInput(enact.Resource):
    topic: str
    points: int = 3


@enact.register(name=f"{M}.outline.Output")
@dataclasses.dataclass
class OutlineOutput(enact.Resource):
    value: list[str]


@enact.register(name=f"{M}.draft.Input")
@dataclasses.dataclass
class DraftInput(enact.Resource):
    point: str


@enact.register(name=f"{M}.critique.Input")
@dataclasses.dataclass
class CritiqueInput(enact.Resource):
    text: str


@enact.register(name=f"{M}.revise.Input")
@dataclasses.dataclass
class ReviseInput(enact.Resource):
    text: str
    advice: str


@enact.register(name=f"{M}.essay.Input")
@dataclasses.dataclass
class EssayInput(enact.Resource):
    topic: str


@enact.register(name=f"{M}.roll")
@enact.typed_invokable(enact.Int, enact.Int, register=False)
@dataclasses.dataclass
class Roll(enact.Invokable):
    def call(self, sides: enact.Int) -> enact.Int:
        return enact.Int(int(sides) // 2)


@enact.register(name=f"{M}.outline")
@enact.typed_invokable(OutlineInput, OutlineOutput, register=False)
@dataclasses.dataclass
class Outline(enact.Invokable):
    def call(self, given: OutlineInput) -> OutlineOutput:
        return OutlineOutput([f"{given.topic}: point {i + 1}" for i in range(given.points)])


@enact.register(name=f"{M}.draft")
@enact.typed_invokable(DraftInput, enact.Str, register=False)
@dataclasses.dataclass
class Draft(enact.Invokable):
    def call(self, given: DraftInput) -> enact.Str:
        return enact.Str(f"A paragraph about {given.point}.")


@enact.register(name=f"{M}.critique")
@enact.typed_invokable(CritiqueInput, enact.Str, register=False)
@dataclasses.dataclass
class Critique(enact.Invokable):
    def call(self, given: CritiqueInput) -> enact.Str:
        return enact.Str("shorter" if len(given.text) > 60 else "fine")


@enact.register(name=f"{M}.revise")
@enact.typed_invokable(ReviseInput, enact.Str, register=False)
@dataclasses.dataclass
class Revise(enact.Invokable):
    def call(self, given: ReviseInput) -> enact.Str:
        return enact.Str(given.text if given.advice == "fine" else given.text[:60])


@enact.register(name=f"{M}.essay")
@enact.typed_invokable(EssayInput, enact.Str, register=False)
@dataclasses.dataclass
class Essay(enact.Invokable):
    version: str = "1"

    def call(self, given: EssayInput) -> enact.Str:
        points = Outline()(OutlineInput(given.topic)).value
        text = "\n".join(str(Draft()(DraftInput(point))) for point in points)
        return Revise()(ReviseInput(text, str(Critique()(CritiqueInput(text)))))

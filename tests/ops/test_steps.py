"""`mapped`: an inner generator's steps changed on the way out, its return value kept, and the
inner one closed with the outer."""

from __future__ import annotations

from editor.ops.steps import mapped


def test_the_steps_are_changed_and_the_result_kept():
    def inner():
        yield 0.5, "half"
        yield 1.0, "all"
        return "result"

    def outer():
        result = yield from mapped(inner(), lambda fraction, word: f"{fraction:.1f} {word}")
        return result.upper()

    run, seen = outer(), []
    try:
        while True:
            seen.append(next(run))
    except StopIteration as stop:
        assert stop.value == "RESULT"
    assert seen == ["0.5 half", "1.0 all"]


def test_closing_the_outer_closes_the_inner():
    closed = []

    def inner():
        try:
            yield (1,)
            yield (2,)
        finally:
            closed.append(True)

    run = mapped(inner(), lambda n: n * 10)
    assert next(run) == 10
    run.close()
    assert closed == [True]

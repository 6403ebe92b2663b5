"""The JSON line of a passing check as ``runner eval`` prints it, built from parts: the same
text as encoding its result dict (:func:`runner.results.check_result`), for less work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from runner.results import check_id, check_result, compact_explanation, principal_label, step_result
from runner.speed import IdentityMemo

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner import model
    from runner.engine import Decision

__all__ = ["PassedLines"]

#: A case's template: the text between the varying values (:data:`_VARYING`), and the text
#: after the principal of its checks, by what it is made of (``PassedLines.line``)
_Template = tuple[tuple[str, ...], dict[tuple[object, ...], str]]

#: The values of a result that differ between the checks of one case, in the order
#: :func:`runner.results.check_result` writes them, with stand-ins (:class:`PassedLines`).
#: A NUL character cannot occur in YAML text, file names or ECR names, and a template in which
#: a stand-in is not found exactly once, in this order, is not used.
_VARYING = ("id", "line", "principal", "principal_arn", "action", "expected", "decision", "steps")
_STEP_VARYING = ("action", "decision", "explanation")


def _stand_in(key: str) -> str:
    return "\x00" + key


class PassedLines:
    """The JSON line of a passing check (no error, no known exception), the same text as
    ``encode(check_result(...))`` with its compact steps, built from parts.

    Encoding a whole result dict per check was a third of ``runner eval``'s time after
    loading (benchmarks/bench_scale.py eval). What every check of a case shares (file, case,
    resource, context) is encoded once per case as a template, by encoding a result whose
    varying values (:data:`_VARYING`) are stand-ins and cutting the text at them; a check then
    encodes only those values, each string the way ``encode`` encodes strings (``string``).
    ``encode`` is the run's ``json.JSONEncoder(...).encode``.
    """

    __slots__ = (
        "_encode", "_explained", "_last", "_principal", "_step", "_steps", "_string", "_templates",
        "_who", "_who_arn",
    )  # fmt: skip

    def __init__(self, encode: Callable[[object], str], string: Callable[[str], str]) -> None:
        self._encode = encode
        self._string = string
        self._templates: IdentityMemo[_Template | None] = IdentityMemo(256)
        #: the last template and what found it (resource, context, file, case, case index)
        self._last: tuple[object, object, str, str, int, _Template | None] | None = None
        #: the last principal, the template text between its name and its ARN (``_who_arn``),
        #: and its encoded name, that text and its encoded ARN (``_who``)
        self._principal: model.Principal | None = None
        self._who_arn = ""
        self._who = ""
        # the encoded compact explanations, by what they are made of: the checks of a case
        # are mostly decided by the same statements for the same reason
        self._explained: dict[tuple[object, ...], str] = {}
        #: the text of one step, by its action, its decision and what its explanation is made of
        self._steps: dict[tuple[object, ...], str] = {}
        step: dict[str, Any] = step_result("", "", {})
        for key in _STEP_VARYING:
            step[key] = _stand_in(key)
        self._step = self._cut(encode(step), _STEP_VARYING)

    def _cut(self, text: str, keys: Sequence[str]) -> tuple[str, ...] | None:
        """``text`` cut at the stand-in of each of ``keys``, in this order, or None."""
        pieces: list[str] = []
        rest = text
        for key in keys:
            encoded = self._string(_stand_in(key))
            if text.count(encoded) != 1:
                return None
            head, found, rest = rest.partition(encoded)
            if not found:
                return None
            pieces.append(head)
        pieces.append(rest)
        return tuple(pieces)

    def _template(self, check: model.Check) -> _Template | None:
        result = check_result(check, decision="", passed=True)
        if list(result)[-1] != "steps" or not set(_VARYING) <= result.keys():
            return None
        for key in _VARYING:
            result[key] = _stand_in(key)
        pieces = self._cut(self._encode(result), _VARYING)
        return None if pieces is None else (pieces, {})

    def _explanation(self, decision: Decision) -> str:
        """``encode(compact_explanation(decision))``, remembered."""
        key = (decision.decision, decision.gate, decision.reason, *decision.decisive_key())
        text = self._explained.get(key)
        if text is None:
            if len(self._explained) >= 4096:
                self._explained.clear()
            text = self._explained[key] = self._encode(compact_explanation(decision))
        return text

    def _step_text(self, action: str, verdict: str, decision: Decision) -> str:
        """One entry of ``steps``, remembered by all it is made of: the actions of a case are
        mostly decided for the same few reasons."""
        key: tuple[object, ...] = (
            action, verdict, decision.decision, decision.gate, decision.reason,
            *decision.decisive_key(),
        )  # fmt: skip
        text = self._steps.get(key)
        if text is None:
            if len(self._steps) >= 4096:
                self._steps.clear()
            assert self._step is not None  # line() checks
            s_action, s_decision, s_explanation, s_end = self._step
            string = self._string
            text = self._steps[key] = (
                f"{s_action}{string(action)}{s_decision}{string(verdict)}"
                f"{s_explanation}{self._explanation(decision)}{s_end}"
            )
        return text

    def line(
        self,
        check: model.Check,
        decision: str,
        steps: Sequence[tuple[str, str, Decision]],
    ) -> str:
        """The line of ``check``, passed with ``decision``; ``steps`` are the action, the
        decision (as text) and the engine's decision of each step."""
        # Consecutive checks mostly share their case's template and their principal (a case
        # expands principal by principal, action by action): the last ones are kept, and
        # found again by identity and by the case's place, without building a memo key
        # (a third of this method's time at 20,000 checks).
        last = self._last
        if (
            last is not None
            and check.resource is last[0]
            and check.context is last[1]
            and check.case_index == last[4]
            and check.case == last[3]
            and check.file == last[2]
        ):
            template = last[5]
        else:
            template = self._templates.get(
                (check.resource, check.context),
                (check.file, check.case, check.case_index),
                lambda: self._template(check),
            )
            self._last = (
                check.resource, check.context, check.file, check.case, check.case_index, template
            )  # fmt: skip
        if template is None or self._step is None or type(check.loc.line) is not int:
            return self._encode(
                check_result(
                    check,
                    decision=decision,
                    passed=True,
                    steps=[step_result(a, v, compact_explanation(d)) for a, v, d in steps],
                )
            )
        string = self._string
        step_text = self._step_text
        if len(steps) == 1:
            ((action, verdict, d),) = steps
            shown = step_text(action, verdict, d)
        else:
            shown = ",".join(step_text(action, verdict, d) for action, verdict, d in steps)
        pieces, tails = template
        # what follows the principal: the same for the checks of a case with one action,
        # expectation, decision and steps (its principals, mostly)
        tail_key = (check.action, check.expected, decision, shown)
        tail = tails.get(tail_key)
        if tail is None:
            if len(tails) >= 1024:
                tails.clear()
            t_action, t_expected, t_decision, t_steps, t_end = pieces[4:]
            tail = tails[tail_key] = (
                f"{t_action}{string(check.action)}{t_expected}{string(str(check.expected))}"
                f"{t_decision}{string(decision)}{t_steps}[{shown}]{t_end}"
            )
        t_id, t_line, t_name, t_arn = pieces[:4]
        principal = check.principal
        if principal is self._principal and t_arn is self._who_arn:
            who = self._who
        else:
            who = self._who = f"{string(principal.name)}{t_arn}{string(principal_label(principal))}"
            self._principal = principal
            self._who_arn = t_arn
        return f"{t_id}{string(check_id(check))}{t_line}{check.loc.line}{t_name}{who}{tail}"

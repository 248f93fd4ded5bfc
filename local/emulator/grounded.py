"""What the emulated model says to a grounded prompt: the most relevant source sentence, cited.

Grounded chat (``stratus.retrieval.context``) numbers each retrieved chunk in the prompt as
``<source id="N" name="..." position="...">text</source>`` and asks for ``[N]`` citations. A
real model answers from them; echoing the whole prompt back ("You said: Answer the question
using the numbered sources...") looks broken in a demo. So the emulator quotes the source
sentence sharing the most words with the question, followed by its marker, like ``... [2]``,
and says it does not know when no sentence shares a word. Pure and deterministic.
"""

from __future__ import annotations

import re

_SOURCE = re.compile(r'<source id="(\d+)"[^>]*>\n?(.*?)\n?</source>', re.DOTALL)
_QUESTION = re.compile(r"Question:\s*(.*)\Z", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+")
# Words every question and sentence share; counting them would pick sentences at random.
_COMMON = frozenset(
    _WORD.findall(
        "a an and are as at be by do does for from how i in is it of on or that the this to was "
        "were what when where which who why with you your"
    )
)
NOT_FOUND_REPLY = "I do not know: the sources do not say."


def _words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in _COMMON}


def _question(prompt: str) -> str:
    """The question: after ``Question:`` following the last source (the default template), or
    whatever text of a custom template is not a source."""
    after = prompt[prompt.rfind("</source>") + len("</source>") :]
    asked = _QUESTION.search(after)
    if asked:
        return asked.group(1)
    return _SOURCE.sub(" ", prompt)


def is_grounded(prompt: str) -> bool:
    return _SOURCE.search(prompt) is not None


def grounded_reply_text(prompt: str) -> str:
    """The best sentence of the numbered sources with its ``[N]`` marker. Ties go to the lower
    source number, then to the earlier sentence."""
    wanted = _words(_question(prompt))
    best: tuple[int, str, str] | None = None
    for number, text in _SOURCE.findall(prompt):
        for sentence in _SENTENCE_END.split(" ".join(text.split())):
            score = len(wanted & _words(sentence))
            if score and (best is None or score > best[0]):
                best = (score, number, sentence)
    if best is None:
        return NOT_FOUND_REPLY
    _, number, sentence = best
    return f"{sentence} [{number}]"

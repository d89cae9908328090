"""The offline planner: split a prompt into timed scenes by paragraphs, sentences and clauses.

Pure and deterministic, linear in the prompt's length. A scene's narration is its own text;
its size is chosen so the narration, spoken at `words_per_minute`, fits `max_segment_s`.
"""

import math
import re
import unicodedata
from dataclasses import dataclass, field

from longvid_assets.plan import NARRATION_PAD_S, RenderDefaults, SegmentDraft, count_words

MOODS = ("calm", "uplifting", "tense", "dark", "playful", "epic")
DEFAULT_MOOD = "calm"
MIN_KEYFRAME_WORDS, MAX_KEYFRAME_WORDS = 4, 24

# Mood cue words, matched on lower-cased words and their simple stems (see `_stems`).
MOOD_WORDS = {
    "calm": (
        "calm quiet gentle still soft breeze lake pond rest peace peaceful slow meadow "
        "morning sleep drift float whisper serene tranquil mist garden rain river"
    ),
    "uplifting": (
        "hope joy sunrise triumph dream bright together celebrate rise smile love "
        "light grow bloom warm friend home reunite free freedom heal succeed"
    ),
    "tense": (
        "chase danger alarm storm hurry threat panic race escape suspense trap tension "
        "fight hide siren clock pursue flee urgent warning collapse"
    ),
    "dark": (
        "death dead die grave shadow night blood ghost grief darkness haunt corpse doom "
        "fear cold ruin despair lonely curse tomb decay mourn"
    ),
    "playful": (
        "silly giggle dance cat kitten puppy dog bounce funny game laugh toy party "
        "bubble play prank tickle wiggle cartoon balloon candy"
    ),
    "epic": (
        "battle empire army mountain kingdom legend ancient hero vast galaxy dragon war "
        "sword conquer titan throne fleet quest ocean cosmos summit"
    ),
}
_MOOD_LOOKUP = {word: mood for mood in MOODS for word in MOOD_WORDS[mood].split()}

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")
_WHITESPACE = re.compile(r"\s+")
# A sentence ends at . ! ? … (plus closing quotes/brackets) before whitespace, or at CJK marks.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)|[。！？]+[」』”’）]*")
# A clause ends after , ; : (before whitespace), before a spaced dash, or at CJK marks.
_CLAUSE_END = re.compile(r"[,;:]+(?=\s)|(?=\s[—–-]\s)|[，；：、]+")
_ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "st", "prof", "sr", "jr", "vs", "etc", "e.g", "i.e", "no", "vol"]
)
_CJK_MARKS = frozenset("。！？」』”’），；：、")
_LEADING_JOINERS = frozenset(["and", "but", "then", "so", "or", "yet", "while"])
_TRIM = " \t\n\"'“”‘’«»()[]—–-,;:.!?…。！？，；：、"


@dataclass
class _Scene:
    """Scene text pieces (sentences, clauses or word runs) and their word count."""

    pieces: list[str] = field(default_factory=list)
    words: int = 0

    def add(self, piece: str, words: int) -> None:
        self.pieces.append(piece)
        self.words += words

    @property
    def text(self) -> str:
        """The pieces rejoined: a space between them, none after CJK full stops."""
        parts = [self.pieces[0]]
        for previous, piece in zip(self.pieces, self.pieces[1:], strict=False):
            parts.append(piece if previous[-1] in _CJK_MARKS else f" {piece}")
        return "".join(parts)


def plan_scenes(prompt: str, defaults: RenderDefaults) -> tuple[list[SegmentDraft], str]:
    """Split `prompt` into scene drafts whose narration fits the segment length limits,
    and infer a music mood (one of `MOODS`) from its words."""
    max_words, min_words = word_budget(defaults)
    # 1. Paragraphs (blank lines), each cut into pieces no longer than max_words.
    scenes: list[_Scene] = []
    for paragraph in split_paragraphs(prompt):
        scenes.extend(_pack(_pieces(paragraph, max_words), max_words))
    if not scenes:
        scenes = [_Scene([tidy(prompt)], count_words(prompt))]
    # 2. Merge scenes too short to stand alone into a neighbour where the pair still fits.
    scenes = _merge_short(scenes, min_words, max_words)
    # 3. Drafts: the text is both the picture and the narration; keyframes from its ends.
    drafts = []
    for index, scene in enumerate(scenes):
        text = scene.text
        opening, closing = opening_keyframe(text), closing_keyframe(text)
        drafts.append(
            SegmentDraft(
                prompt=text,
                narration=text,
                first_keyframe=_opening_shot(opening, closing) if index == 0 else None,
                last_keyframe=closing,
            )
        )
    return drafts, infer_mood(prompt)


def word_budget(defaults: RenderDefaults) -> tuple[int, int]:
    """(max, min) words per scene so its narration plus padding fits min/max_segment_s."""
    words_per_s = defaults.words_per_minute / 60.0
    max_words = max(1, math.floor((defaults.max_segment_s - NARRATION_PAD_S) * words_per_s))
    min_words = max(0, math.ceil((defaults.min_segment_s - NARRATION_PAD_S) * words_per_s))
    return max_words, min(min_words, max_words)


def tidy(text: str) -> str:
    """Unicode-normalized text on one line, whitespace runs collapsed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def split_paragraphs(text: str) -> list[str]:
    paragraphs = (tidy(part) for part in _PARAGRAPH_BREAK.split(text))
    return [paragraph for paragraph in paragraphs if paragraph]


def split_sentences(text: str) -> list[str]:
    """Sentences of one tidy paragraph; a period after a common abbreviation is not an end."""
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        word_start = text.rfind(" ", start, match.start()) + 1
        last_word = text[word_start : match.start()].lower()
        if match.group().startswith(".") and last_word in _ABBREVIATIONS:
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [sentence for sentence in sentences if sentence]


def split_clauses(text: str) -> list[str]:
    """Clauses of one sentence, cut after commas/semicolons/colons and before spaced dashes."""
    clauses, start = [], 0
    for match in _CLAUSE_END.finditer(text):
        clauses.append(text[start : match.end()].strip())
        start = match.end()
    clauses.append(text[start:].strip())
    return [clause for clause in clauses if clause]


def split_words(text: str, max_words: int) -> list[str]:
    """Cut a run of text with no usable punctuation into even chunks of <= max_words words."""
    tokens = text.split(" ")
    total = count_words(text)
    chunks = max(1, math.ceil(total / max_words))
    target = total / chunks
    runs, current, current_words = [], [], 0
    for token in tokens:
        words = count_words(token)
        if current and current_words + words > min(max_words, math.ceil(target)):
            runs.append(" ".join(current))
            current, current_words = [], 0
        current.append(token)
        current_words += words
    if current:
        runs.append(" ".join(current))
    return runs


def opening_keyframe(text: str) -> str:
    """A short visual description of how a scene opens: its first sentence or clause."""
    return visual_description(_end_of(text, first=True))


def closing_keyframe(text: str) -> str:
    """A short visual description of how a scene ends: its last sentence or clause."""
    return visual_description(_end_of(text, first=False))


def visual_description(text: str) -> str:
    """Trim punctuation, quotes and a leading 'and/but/then', cap the length, capitalize."""
    words = text.strip(_TRIM).split(" ")
    while len(words) > 1 and words[0].lower() in _LEADING_JOINERS:
        words = words[1:]
    kept, count = [], 0
    for word in words:
        count += count_words(word)
        if count > MAX_KEYFRAME_WORDS:
            break
        kept.append(word)
    description = " ".join(kept).strip(_TRIM) or text.strip() or "An empty frame"
    return description[0].upper() + description[1:]


def infer_mood(text: str) -> str:
    """The mood whose cue words occur most often; ties go to the earlier mood in `MOODS`."""
    counts = dict.fromkeys(MOODS, 0)
    for word in re.findall(r"[^\W\d_]+", text.lower()):
        for stem in _stems(word):
            mood = _MOOD_LOOKUP.get(stem)
            if mood:
                counts[mood] += 1
                break
    best = max(MOODS, key=lambda mood: counts[mood])
    return best if counts[best] else DEFAULT_MOOD


def _stems(word: str) -> tuple[str, ...]:
    """The word and its simple stems: shadows→shadow, hoping→hope, running→run, cries→cry."""
    stems = [word]
    for suffix in ("ies", "es", "s", "ing", "ed", "ly", "ful", "ness"):
        stem = word[: -len(suffix)]
        if not word.endswith(suffix) or len(stem) < 3:
            continue
        stems += [stem, stem + "e"]
        if stem[-1] == stem[-2]:
            stems.append(stem[:-1])
        if suffix == "ies":
            stems.append(stem + "y")
    return tuple(stems)


def _end_of(text: str, first: bool) -> str:
    """The scene's first (or last) sentence, with its neighbours while it is under
    MIN_KEYFRAME_WORDS ("Rain." alone says little), or its end clause when too long."""
    sentences = split_sentences(text) or [text]
    if not first:
        sentences.reverse()
    chosen = [sentences[0]]
    for sentence in sentences[1:]:
        if count_words(" ".join(chosen)) >= MIN_KEYFRAME_WORDS:
            break
        chosen.append(sentence)
    if not first:
        chosen.reverse()
    end = " ".join(chosen)
    if count_words(end) > MAX_KEYFRAME_WORDS:
        clauses = split_clauses(end)
        end = clauses[0] if first else clauses[-1]
    return end


def _pieces(paragraph: str, max_words: int) -> list[tuple[str, int]]:
    """(text, words) pieces of a paragraph, each <= max_words: the paragraph whole if it
    fits, else its sentences, long sentences by clauses, long clauses by words."""
    words = count_words(paragraph)
    if words <= max_words:
        return [(paragraph, words)]
    pieces = []
    for sentence in split_sentences(paragraph):
        sentence_words = count_words(sentence)
        if sentence_words <= max_words:
            pieces.append((sentence, sentence_words))
            continue
        for clause in split_clauses(sentence):
            for run in split_words(clause, max_words):
                pieces.append((run, count_words(run)))
    return pieces


def _pack(pieces: list[tuple[str, int]], max_words: int) -> list[_Scene]:
    """Pack consecutive pieces into as few scenes as fit, of roughly even size."""
    total = sum(words for _, words in pieces)
    target = total / max(1, math.ceil(total / max_words))
    scenes, current = [], _Scene()
    for text, words in pieces:
        over_max = current.words + words > max_words
        past_target = current.words >= target or (
            current.words + words - target > target - current.words
        )
        if current.pieces and (over_max or past_target):
            scenes.append(current)
            current = _Scene()
        current.add(text, words)
    if current.pieces:
        scenes.append(current)
    return scenes


def _merge_short(scenes: list[_Scene], min_words: int, max_words: int) -> list[_Scene]:
    merged: list[_Scene] = []
    for scene in scenes:
        previous = merged[-1] if merged else None
        short = previous is not None and min(previous.words, scene.words) < min_words
        if short and previous.words + scene.words <= max_words:
            previous.pieces.extend(scene.pieces)
            previous.words += scene.words
        else:
            merged.append(scene)
    return merged


def _opening_shot(opening: str, closing: str) -> str:
    """The first frame; when a scene is one clause its two ends read alike, so mark it."""
    return opening if opening != closing else f"Opening shot: {opening}"

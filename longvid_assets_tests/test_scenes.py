import re
import time

import pytest

from longvid_assets.embedded.scenes import (
    MOODS,
    infer_mood,
    plan_scenes,
    split_clauses,
    split_sentences,
    word_budget,
)
from longvid_assets.plan import NARRATION_PAD_S, RenderDefaults, build_plan, count_words
from longvid_assets.prompts import PromptSpec

DEFAULTS = RenderDefaults()

STORY = """A lighthouse keeper wakes before dawn. The sea is calm and grey.

He climbs the spiral stairs, counting each step as his father did, and his father before \
him, and pauses at the top to watch the first light spread across the water, slow and \
golden, until the whole bay glows. Gulls wheel over the rocks below. A fishing boat leaves \
the harbour, its engine a faint hum. He waves, and the fisherman waves back.

Storm clouds gather. Rain.

Mr. Smith arrives by boat at noon — he brings letters, bread and news from the mainland."""


def words_of(text: str) -> list[str]:
    return re.findall(r"[\w']+", text)


def speech_s(narration: str, defaults: RenderDefaults = DEFAULTS) -> float:
    return count_words(narration) / defaults.words_per_minute * 60 + NARRATION_PAD_S


def plan_of(prompt: str, defaults: RenderDefaults = DEFAULTS):
    drafts, mood = plan_scenes(prompt, defaults)
    return build_plan(
        PromptSpec(prompt=prompt),
        drafts,
        render="test",
        source="test.txt",
        planner="offline",
        defaults=defaults,
        music_mood=mood,
    )


def test_short_paragraphs_are_one_scene_each():
    prompt = (
        "A red fox trots across a snowy field at dawn, its breath steaming.\n\n"
        "An owl watches from a bare oak as the fox disappears into the trees."
    )
    drafts, _ = plan_scenes(prompt, DEFAULTS)
    assert [d.narration for d in drafts] == prompt.split("\n\n")
    assert all(d.prompt == d.narration and d.duration_s is None for d in drafts)


def test_every_word_is_narrated_once_in_order():
    drafts, _ = plan_scenes(STORY, DEFAULTS)
    assert len(drafts) > 2
    assert words_of(" ".join(d.narration for d in drafts)) == words_of(STORY)


@pytest.mark.parametrize(
    "defaults",
    [
        DEFAULTS,
        RenderDefaults(min_segment_s=2, max_segment_s=5),
        RenderDefaults(words_per_minute=220),
    ],
)
def test_narration_fits_the_segment_limits(defaults):
    plan = plan_of(STORY, defaults)
    for segment in plan.segments:
        assert speech_s(segment.narration, defaults) <= defaults.max_segment_s + 1e-9
        assert defaults.min_segment_s - 1 / plan.fps <= segment.duration_s
        assert segment.duration_s <= defaults.max_segment_s + 1 / plan.fps


def test_short_scenes_are_merged_into_a_neighbour():
    drafts, _ = plan_scenes(STORY, DEFAULTS)
    max_words, min_words = word_budget(DEFAULTS)
    assert not any(d.narration == "Storm clouds gather. Rain." for d in drafts)
    assert any("Storm clouds gather. Rain." in d.narration for d in drafts)
    for draft in drafts:
        assert min_words <= count_words(draft.narration) <= max_words


def test_keyframes_chain_from_scene_ends():
    drafts, _ = plan_scenes(STORY, DEFAULTS)
    plan = plan_of(STORY)
    assert plan.segments[0].first_keyframe == "A lighthouse keeper wakes before dawn"
    assert all(d.first_keyframe is None for d in drafts[1:])
    for before, after in zip(plan.segments, plan.segments[1:], strict=False):
        assert before.last_keyframe == after.first_keyframe
    for draft in drafts:
        assert draft.last_keyframe and draft.last_keyframe[0].isupper()
        assert not draft.last_keyframe.endswith((".", ",", "!", "?"))
        assert count_words(draft.last_keyframe) <= 24
    # A closing sentence of one word borrows the sentence before it.
    assert any(d.last_keyframe == "Storm clouds gather. Rain" for d in drafts)


def test_one_sentence_prompt():
    drafts, mood = plan_scenes("A paper boat drifts down a rain-filled gutter", DEFAULTS)
    assert len(drafts) == 1
    assert drafts[0].narration == "A paper boat drifts down a rain-filled gutter"
    assert drafts[0].first_keyframe != drafts[0].last_keyframe
    assert drafts[0].last_keyframe == "A paper boat drifts down a rain-filled gutter"
    assert mood in MOODS
    assert len(plan_of("A paper boat drifts down a rain-filled gutter").segments) == 1


def test_text_without_punctuation_is_cut_into_even_runs():
    prompt = " ".join(f"word{i}" for i in range(100))
    drafts, _ = plan_scenes(prompt, DEFAULTS)
    sizes = [count_words(d.narration) for d in drafts]
    assert len(drafts) == 4 and max(sizes) - min(sizes) <= 1
    assert words_of(" ".join(d.narration for d in drafts)) == words_of(prompt)


def test_long_sentences_split_at_clauses():
    sentence = ", ".join(f"then the {n} bells rang out over the town" for n in range(12)) + "."
    assert len(split_clauses(sentence)) == 12
    drafts, _ = plan_scenes(sentence, DEFAULTS)
    max_words, _ = word_budget(DEFAULTS)
    assert len(drafts) > 1
    assert all(count_words(d.narration) <= max_words for d in drafts)
    assert all(d.narration.endswith((",", ".")) for d in drafts)


def test_sentence_splitting_keeps_abbreviations_and_quotes():
    text = 'Mr. Smith said "Hello." Dr. Jones left at 3.5 past nine sharp! Why? Because.'
    assert split_sentences(text) == [
        'Mr. Smith said "Hello."',
        "Dr. Jones left at 3.5 past nine sharp!",
        "Why?",
        "Because.",
    ]


def test_unicode_text():
    prompt = (
        "Éloïse marche sous la pluie, le cœur léger. 🌧️ Les pavés brillent.\n\n"
        + "夜の街に雨が降る。ネオンが水たまりに映る。" * 20
    )
    drafts, mood = plan_scenes(prompt, DEFAULTS)
    assert drafts[0].narration.startswith("Éloïse marche")
    assert "雨が降る。ネオン" in drafts[-1].narration  # no space inserted after 。
    assert mood in MOODS
    plan_of(prompt)  # valid plan


def test_blank_and_symbol_only_paragraphs():
    drafts, _ = plan_scenes("***\n\nThe curtain rises.\n\n\n\n   \n\n---", DEFAULTS)
    assert len(drafts) == 1
    assert "The curtain rises." in drafts[0].narration


def test_deterministic():
    assert plan_scenes(STORY, DEFAULTS) == plan_scenes(STORY, DEFAULTS)


def test_long_text_is_fast_and_linear():
    sentence = "The caravan crosses the dunes at dusk, {n} camels in a line, lanterns swaying."
    paragraphs = [
        " ".join(sentence.format(n=n + k) for k in range(6)) for n in range(0, 5_100 // 78)
    ]
    prompt = "\n\n".join(paragraphs)
    assert count_words(prompt) >= 5_000
    start = time.perf_counter()
    drafts, _ = plan_scenes(prompt, DEFAULTS)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"planning 5,000 words took {elapsed:.3f} s"
    assert len(drafts) >= count_words(prompt) // word_budget(DEFAULTS)[0]
    assert words_of(" ".join(d.narration for d in drafts)) == words_of(prompt)
    plan_of(prompt)

    # One unpunctuated block of 20,000 words: still linear, still within limits.
    block = " ".join(["sand"] * 20_000)
    start = time.perf_counter()
    drafts, _ = plan_scenes(block, DEFAULTS)
    assert time.perf_counter() - start < 1.0
    assert max(count_words(d.narration) for d in drafts) <= word_budget(DEFAULTS)[0]


@pytest.mark.parametrize(
    ("text", "mood"),
    [
        ("The ghost of the dead king haunts the grave at night; blood on the stones.", "dark"),
        ("Kittens giggle and bounce after bubbles at the silly party.", "playful"),
        ("Sirens wail as they chase the thief; danger at every corner, hurry!", "tense"),
        ("Ancient armies of the empire march to battle beneath the dragon's mountain.", "epic"),
        ("At sunrise the friends celebrate together, full of hope and joy.", "uplifting"),
        ("A gentle breeze crosses the quiet lake.", "calm"),
        ("The accountant files form 27B.", "calm"),
    ],
)
def test_mood(text, mood):
    assert infer_mood(text) == mood
    assert plan_scenes(text, DEFAULTS)[1] == mood

"""lstmkit.Translator: attention shapes and masking, decoding, save/load (tiny models, one core)."""

from __future__ import annotations

import pytest
import torch

from lstmkit.data.pairs import SentencePairs
from lstmkit.data.tokenize import BOS, PAD
from lstmkit.errors import InputError
from lstmkit.tasks.beam import beam_search, greedy
from lstmkit.tasks.translate import Translator, collate_pairs, pad_batch, score_translations
from lstmkit.tasks.translate_net import TranslatorNet, TranslatorNetConfig

NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ZAHLEN = ["eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]


def toy_pairs() -> SentencePairs:
    """'I have N M' -> 'ich habe M N' (the two numbers swap places)."""
    sources, targets = [], []
    for i, a in enumerate(NUMBERS):
        for j, b in enumerate(NUMBERS):
            sources.append(f"I have {a} {b}")
            targets.append(f"ich habe {ZAHLEN[j]} {ZAHLEN[i]}")
    return SentencePairs(sources, targets)


@pytest.fixture(scope="module")
def fitted():
    torch.manual_seed(0)
    return Translator(tokens="word", hidden_size=32, embedding_size=16, dropout=0.0, max_epochs=3, input_feeding=True,
                      batch_size=16, progress=False, checkpoint_every=None, val_fraction=0.0).fit(toy_pairs())


def net(attention: str, feeding: bool = True, seed: int = 0) -> TranslatorNet:
    torch.manual_seed(seed)
    return TranslatorNet(TranslatorNetConfig(source_vocab=20, target_vocab=15, hidden_size=8, embedding_size=6,
                                             attention=attention, input_feeding=feeding, dropout=0.0)).eval()


@pytest.mark.parametrize("attention", ["general", "dot", "additive"])
def test_attention_shapes_and_padding_masked(attention):
    model = net(attention)
    source, lengths = pad_batch([[4, 5, 6, 7, 8], [9, 10]])
    memory, state = model.encode(source, lengths)
    assert memory.memory.shape == (2, 5, 8) and memory.keys.shape == (2, 5, 8)
    assert state[0].shape == state[1].shape == (1, 2, 8)
    assert memory.mask.tolist() == [[True] * 5, [True, True, False, False, False]]
    hidden = torch.randn(2, 3, 8)
    context, weights = model.attention(hidden, memory)
    assert context.shape == (2, 3, 8) and weights.shape == (2, 3, 5)
    assert torch.all(weights[1, :, 2:] == 0)  # padded positions: exactly zero weight
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    torch.testing.assert_close(context, weights @ memory.memory)
    # what a padded position holds does not matter: change it, the output stays
    garbage = source.clone()
    garbage[1, 2:] = 11
    with torch.no_grad():
        target_in = torch.tensor([[2, 4, 5], [2, 6, 7]])
        a = model(source, lengths, target_in)
        b = model(garbage, lengths, target_in)
        alone = model(source[1:, :2], lengths[1:], target_in[1:])
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a[1:], alone, atol=1e-6, rtol=1e-5)  # batched with a longer sentence = alone


@pytest.mark.parametrize("attention, feeding", [("general", True), ("additive", False), ("none", True)])
def test_decode_step_matches_teacher_forcing(attention, feeding):
    """Stepping the decoder one token at a time (the compiled step under no_grad) gives the
    teacher-forced forward's logits."""
    model = net(attention, feeding)
    source, lengths = pad_batch([[4, 5, 6], [7, 8]])
    target_in = torch.tensor([[2, 4, 5, 6], [2, 7, 8, 9]])
    with torch.no_grad():
        expected = model(source, lengths, target_in)  # (N, T, V)
        memory, state = model.encode(source, lengths)
        feed = None
        for t in range(target_in.shape[1]):
            logits, state, feed, weights = model.decode_step(target_in[:, t], state, feed, memory)
            torch.testing.assert_close(logits, expected[:, t], atol=1e-5, rtol=1e-5)
            assert (weights is None) == (attention == "none")


def test_gradients_reach_every_parameter():
    model = net("additive").train()
    batch = collate_pairs([([4, 5, 6], [4, 5]), ([7], [6, 7, 8])])
    logits = model(*batch[:3])
    assert logits.shape == (2, 4, 15)
    torch.nn.functional.cross_entropy(logits.reshape(-1, 15), batch[3].reshape(-1), ignore_index=0).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == ["source_embedding.weight"] or missing == []  # row 0 (padding) only may be 0


@pytest.mark.parametrize("attention", ["general", "none"])
def test_beam_one_is_greedy(attention):
    model = net(attention, seed=3)
    source, lengths = pad_batch([[4, 5, 6, 7], [8, 9], [10, 11, 12]])
    g = greedy(model, source, lengths, max_length=12)
    b = beam_search(model, source, lengths, max_length=12, beam=1)
    assert g.tokens == b.tokens
    assert g.scores == pytest.approx(b.scores, abs=1e-5)
    for x, y in zip(g.attention, b.attention):
        assert (x is None and y is None) or torch.equal(x, y)
    for tokens, weights, length in zip(g.tokens, g.attention, lengths.tolist()):
        assert not {PAD, BOS} & set(tokens)  # never written, even by an untrained model
        if weights is not None:  # one row per written token (and </s> when it came)
            assert weights.shape[0] in (len(tokens), len(tokens) + 1) and weights.shape[1] == length


def test_beam_one_is_greedy_on_a_trained_model(swapper):
    pairs = toy_pairs()
    source, lengths = pad_batch(swapper._source_ids(pairs.sources))
    g = greedy(swapper.net, source, lengths, max_length=20)
    b = beam_search(swapper.net, source, lengths, max_length=20, beam=1)
    assert g.tokens == b.tokens and all(len(t) < 20 for t in g.tokens)  # every sentence ended
    assert g.scores == pytest.approx(b.scores, abs=1e-5)


def test_beam_finds_a_likelier_translation_than_greedy_or_the_same():
    model = net("general", seed=5)
    source, lengths = pad_batch([[4, 5, 6, 7], [8, 9], [10, 11, 12], [13, 14]])
    g = greedy(model, source, lengths, max_length=8)
    b = beam_search(model, source, lengths, max_length=8, beam=6, length_penalty=0.0)
    finished = [len(t) < 8 for t in g.tokens]
    for gs, bs, done in zip(g.scores, b.scores, finished):
        if done:
            assert bs >= gs - 1e-5


def test_fit_translate_save_load(fitted, tmp_path):
    sentences = ["I have two three", "I have nine one"]
    translations = fitted.translate(sentences, beam=3)
    assert len(translations) == 2 and all(isinstance(t, str) for t in translations)
    assert fitted.translate(sentences, beam=1) == fitted.translate(sentences, beam=1)
    fitted.save(tmp_path / "m")
    loaded = Translator.load(tmp_path / "m")
    assert loaded.translate(sentences, beam=3) == translations
    assert loaded.translate(sentences[0], beam=1) == fitted.translate(sentences[0], beam=1)
    src, tgt, weights = loaded.attention_map("I have two three")
    assert weights.shape == (len(tgt), len(src)) and src[0] == "\u2581I"
    torch.testing.assert_close(torch.from_numpy(weights).sum(1), torch.ones(len(tgt)))


@pytest.fixture(scope="module")
def swapper():
    return Translator(tokens="word", hidden_size=48, embedding_size=24, dropout=0.0, max_epochs=60,
                      learning_rate=1e-2, batch_size=27, progress=False, checkpoint_every=None, val_fraction=0.0,
                      label_smoothing=0.0).fit(toy_pairs())


def test_learns_to_swap(swapper):
    """More epochs on the toy task: the training pairs are translated exactly."""
    pairs = toy_pairs()
    hits = sum(h == t for h, t in zip(swapper.translate(pairs.sources, beam=1), pairs.targets))
    assert hits >= 0.9 * len(pairs)
    assert sum(h == t for h, t in zip(swapper.translate(pairs.sources, beam=4), pairs.targets)) >= 0.9 * len(pairs)


def test_errors(fitted):
    with pytest.raises(InputError, match="attention: expected one of general, dot, additive, none; got 'luong'"):
        Translator(attention="luong")
    with pytest.raises(InputError, match="hidden_size: expected an even number"):
        Translator(hidden_size=7)
    with pytest.raises(InputError, match="sentence 2 is empty"):
        fitted.translate(["I have one", "  "])
    with pytest.raises(RuntimeError, match="not fitted yet"):
        Translator().translate("x")


def test_scores_count_every_reference():
    pytest.importorskip("sacrebleu")
    hyp = "ich habe heute zwei rote Äpfel gekauft"
    one = score_translations([hyp], [["ich habe heute drei rote Äpfel gekauft"]])
    both = score_translations([hyp], [["ich habe heute drei rote Äpfel gekauft", hyp]])
    assert both["bleu"] == pytest.approx(100.0) and one["bleu"] < 100.0
    assert both["references_per_sentence"] == 2.0

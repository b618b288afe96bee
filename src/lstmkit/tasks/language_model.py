r"""Character-level language modelling and text generation: ``lstmkit.LanguageModel``.

In the spirit of Karpathy's char-rnn: each character is embedded, an lstmkit LSTM reads the
text, and a softmax over the vocabulary from the hidden state gives the next character's
distribution::

    e_t = E[x_t]                       embedding of the character at t
    h_t, c_t = LSTM(e_t, h_{t-1}, c_{t-1})
    p(x_{t+1} | x_{≤t}) = softmax(W h_t + b)

Training is stateful truncated backpropagation through time: the text is cut into B parallel
streams; each batch is the next k characters of every stream, and the state at the end of a
batch starts the next one (detached, so gradients flow back at most k steps). The loss is the
cross-entropy in nats; validation reports bits per character, ``bpc = loss / ln 2``, and
perplexity ``2^bpc``.

Sampling draws one character at a time with :meth:`lstmkit.LSTM.step`, from
``softmax(logits / temperature)`` restricted to the ``top_k`` most likely characters, never
the vocabulary's unknown character (index 0, U+FFFD: no character of the text; an untrained
or briefly trained model would otherwise write it).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lstmkit.errors import InputError, param_ref
from lstmkit.nn import LSTM
from lstmkit.nn.bptt import detach_state
from lstmkit.tasks.base import EncoderView, Estimator, capture_encoder_input, net_options
from lstmkit.train import TrainingConfig, fit

KIND = "language_model"
TEXT_DEFAULT_DATA = "the Python standard library's source (lstmkit.data.text.default_corpus)"
LN2 = math.log(2.0)


@dataclass(kw_only=True)
class CharLMOptions:
    """The network's options the user chooses (shared by the params and the net's config)."""

    embedding_size: int = 64
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.25
    layer_norm: bool = True
    backend: str = "auto"


@dataclass(kw_only=True)
class CharLMConfig(CharLMOptions):
    vocab_size: int


class CharLM(nn.Module):
    """Embedding -> LSTM -> linear layer giving logits over the vocabulary."""

    def __init__(self, config: CharLMConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_size)
        self.lstm = LSTM(c.embedding_size, c.hidden_size, c.num_layers, batch_first=True,
                         dropout=c.dropout if c.num_layers > 1 else 0.0, layer_norm=c.layer_norm,
                         forget_bias=1.0, backend=c.backend)
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size)
        self.carried: dict[bool, Any] = {True: None, False: None}  # state per mode, across batches

    @property
    def encoder(self) -> LSTM:
        """The recurrent encoder (every application's network names it so)."""
        return self.lstm

    def forward(self, ids: torch.Tensor, state=None):
        """``ids`` ``(N, k)`` -> logits ``(N, k, V)`` and the final state."""
        output, state = self.lstm(self.embedding(ids), state)
        return self.decoder(output), state

    def resume_state(self) -> dict:
        """The state carried between batches, for a mid-epoch checkpoint (the engine saves
        it beside the weights): without it a resumed run would start its next batch from a
        zero state where the uninterrupted run continues the streams."""
        return {"train": self.carried[True], "eval": self.carried[False]}

    def restore_resume_state(self, state: dict) -> None:
        self.carried = {True: state.get("train"), False: state.get("eval")}


def stateful_loss(net: CharLM, batch) -> torch.Tensor:
    """Cross-entropy of one batch of streams, carrying the state from the previous batch.

    ``batch`` is ``(x, y, first)``: inputs and targets ``(N, k)``, and whether this batch
    starts the streams (then the carried state is dropped).
    """
    x, y, first = batch
    state = None if bool(first) else net.carried[net.training]
    if state is not None and state[0].shape[1] != x.shape[0]:
        state = None
    logits, state = net(x, state)
    net.carried[net.training] = detach_state(state)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


class StreamBatches(torch.utils.data.Dataset):
    """A token array as ``streams`` parallel rows, served ``steps`` columns at a time, in order.

    ``ranks`` > 1 (data-parallel training): the rows are dealt to the ranks (rank r reads rows
    r, r + ranks, ...), and item ``k * ranks + r`` is rank r's k-th chunk. The distributed
    sampler deals items the same way (rank r: items r, r + ranks, ...; shuffle off), so every
    rank reads its own streams' chunks in order and the state carried from one chunk to the
    next continues its text, as with one process (dealt by time instead, a rank would carry
    the state of chunk k into chunk k + ranks)."""

    def __init__(self, ids: np.ndarray, streams: int, steps: int, ranks: int = 1) -> None:
        usable = (len(ids) - 1) // streams * streams
        if usable < streams * 2:
            raise ValueError("text too short for the batch")
        if not 1 <= ranks <= streams:
            raise ValueError(f"ranks must lie in 1 .. streams ({streams}), got {ranks}")
        data = torch.as_tensor(ids[: usable + 1], dtype=torch.long)
        self.x = data[:-1].view(streams, -1)  # (B, T)
        self.y = data[1:].view(streams, -1)
        self.steps = steps
        self.ranks = ranks

    def __len__(self) -> int:
        return math.ceil(self.x.shape[1] / self.steps) * self.ranks

    def __getitem__(self, i: int):
        chunk, rank = divmod(i, self.ranks)
        sl = slice(chunk * self.steps, (chunk + 1) * self.steps)
        rows = slice(rank, None, self.ranks)
        return self.x[rows, sl], self.y[rows, sl], torch.tensor(chunk == 0)


@dataclass(kw_only=True)
class LanguageModelParams(CharLMOptions):
    """The user's choices (all saved with the model)."""

    streams: int = 32  # B, batch of parallel streams
    steps: int = 100  # k, truncated-BPTT length
    val_fraction: float = 0.05
    training: TrainingConfig = dataclasses.field(
        default_factory=lambda: TrainingConfig(max_epochs=1000, max_time=3.0, learning_rate=6e-3,
                                               patience=5, gradient_clip=1.0, lr_schedule="cosine",
                                               warmup_steps=50)
    )

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must lie in (0, 0.5), got {self.val_fraction}")
        if self.training.devices > self.streams:
            raise InputError(f"{param_ref('devices')} {self.training.devices} is more than "
                             f"{param_ref('streams')} {self.streams}: every process reads streams of its own",
                             param="devices")


class LanguageModel(Estimator):
    """A character-level LSTM language model.

    The defaults are tuned for a few minutes on a 2-core CPU: Adam with a learning rate that
    warms up over 50 steps and then follows a cosine down to 5 % of its peak by the end of
    ``max_time`` (or of ``max_epochs``, whichever ends first), layer normalisation, dropout
    between the layers, and the weights of the best validation epoch kept.

    >>> lm = LanguageModel(max_time=1).fit(text)
    >>> lm.sample("def ", length=200, temperature=0.8)
    >>> lm.bits_per_character(other_text)
    """

    KIND = KIND
    Params = LanguageModelParams
    NetConfig = CharLMConfig
    Net = CharLM

    def reset(self) -> None:
        self.vocabulary = None
        self.val_bpc: float | None = None

    def fit(self, text: str, *, run_dir: str | Path | None = None, resume_from=None,
            source: str = "text", on_epoch=None) -> "LanguageModel":
        from lstmkit.data.text import Vocabulary, split_text

        p = self.params
        self.vocabulary = Vocabulary.from_text(text)
        ids = self.vocabulary.encode(text)
        train_ids, val_ids = split_text(ids, p.val_fraction)
        need = 2 * p.streams + 1
        if len(val_ids) < need or len(train_ids) < need:
            raise InputError(
                f"{source}: {len(text)} characters are too few to train on: with {p.streams} streams "
                f"and a {p.val_fraction:.0%} validation part it needs at least "
                f"{math.ceil(need / p.val_fraction)} characters"
            )
        if p.backend != "reference":
            _compile_kernels()  # before the clock of max_time starts, not inside the first epoch
        torch.manual_seed(p.training.seed)
        self.net = self.build_net(CharLMConfig(vocab_size=len(self.vocabulary), **net_options(p, CharLMOptions)))
        ranks = p.training.devices  # data-parallel: every process reads its own streams
        train = torch.utils.data.DataLoader(StreamBatches(train_ids, p.streams, p.steps, ranks), batch_size=None)
        val_streams = max(ranks, min(p.streams, (len(val_ids) - 1) // (2 * p.steps) or 1))
        val = torch.utils.data.DataLoader(StreamBatches(val_ids, val_streams, p.steps, ranks), batch_size=None)
        callbacks = [_SampleCallback(self, on_epoch)] if on_epoch is not None else []
        kwargs = {"callbacks": callbacks} if callbacks else {}
        self.fit_result = fit(self.net, stateful_loss, train, val, p.training, run_dir,
                              resume_from=resume_from, **kwargs)
        self.net.eval()
        self.val_bpc = self._bpc_of_ids(val_ids)
        return self

    # --------------------------------------------------------------------- using it
    def _bpc_of_ids(self, ids: np.ndarray) -> float:
        x = torch.as_tensor(ids[:-1], dtype=torch.long).unsqueeze(0)
        y = torch.as_tensor(ids[1:], dtype=torch.long).unsqueeze(0)
        total, state, count = 0.0, None, 0
        with torch.no_grad():
            for start in range(0, x.shape[1], 1000):
                logits, state = self.net.eval()(x[:, start:start + 1000], state)
                target = y[:, start:start + 1000]
                total += float(nn.functional.cross_entropy(logits[0], target[0], reduction="sum"))
                count += target.shape[1]
        return total / count / LN2

    def bits_per_character(self, text: str) -> float:
        """Bits per character of ``text`` under the model (lower is better)."""
        self.require_fitted()
        if len(text) < 2:
            raise ValueError("text must have at least 2 characters")
        return self._bpc_of_ids(self.vocabulary.encode(text))

    def evaluate(self, text: str) -> dict[str, Any]:
        """Bits per character and perplexity (``2^bpc``) of ``text``."""
        bpc = self.bits_per_character(text)
        return {"bits_per_character": bpc, "perplexity": 2.0 ** bpc, "characters": len(text)}

    def predict(self, prime: str = "", length: int = 200, **kwargs) -> str:
        """Generated text: the same as :meth:`sample`."""
        return self.sample(prime, length, **kwargs)

    def sample(self, prime: str = "", length: int = 200, *, temperature: float = 1.0,
               top_k: int | None = None, seed: int | None = 0) -> str:
        """``length`` characters generated after ``prime`` (which is included in the result)."""
        self.require_fitted()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        from lstmkit.data.text import UNKNOWN_ID

        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        net = self.net.eval()
        vocab = self.vocabulary
        prime = prime or ("\n" if "\n" in vocab else vocab.chars[0])
        state = None
        out = list(prime)
        with torch.no_grad():
            ids = torch.as_tensor(vocab.encode(prime), dtype=torch.long)
            for token in ids[:-1]:
                _, state = net.encoder.step(net.embedding(token.view(1)), state)
            token = ids[-1]
            for _ in range(length):
                h, state = net.encoder.step(net.embedding(token.view(1)), state)
                logits = net.decoder(h)[0] / temperature
                if len(logits) > 1:  # never the unknown character: it stands for no character of the text
                    logits[UNKNOWN_ID] = float("-inf")
                if top_k is not None and top_k < logits.shape[0]:
                    cutoff = torch.topk(logits, top_k).values[-1]
                    logits = logits.masked_fill(logits < cutoff, float("-inf"))
                token = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[0]
                out.append(vocab.decode([int(token)]))
        return "".join(out)

    def encoder_view(self, data=None, *, max_sequences: int = 512, max_chars: int = 2000) -> EncoderView:
        """The first ``max_chars`` characters of ``data`` (a UTF-8 text file; default the
        standard-library corpus), as one sequence of embeddings."""
        from lstmkit.data.text import default_corpus, read_text

        self.require_fitted()
        if data is None:
            text = default_corpus(max_chars=2 * max_chars)[:max_chars]
            source = TEXT_DEFAULT_DATA
        else:
            text = read_text(data)[:max_chars]
            source = str(data)
        ids = torch.as_tensor(self.vocabulary.encode(text), dtype=torch.long).unsqueeze(0)  # (1, L)
        inputs, _ = capture_encoder_input(self.net.encoder, lambda: self.net.eval()(ids))
        notes = {"characters": len(text), "unknown_characters": int(self.vocabulary.count_unknown(text))}
        return EncoderView(self.net.encoder, inputs, list(text), None, source, None, None, notes)

    # --------------------------------------------------------------------- persistence
    def fitted_state(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary.to_dict(), "val_bpc": self.val_bpc}

    def restore_state(self, state: dict[str, Any]) -> None:
        from lstmkit.data.text import Vocabulary

        self.vocabulary = Vocabulary.from_dict(state["vocabulary"])
        self.val_bpc = state.get("val_bpc")


def _compile_kernels() -> None:
    """Build (once, cached) the fused LSTM kernel for training and the compiled step for the
    samples, so that a first run does not spend its time budget compiling."""
    from lstmkit.nn import fused
    from lstmkit.nn.fused.step import step_available

    fused.available()
    step_available()


class _SampleCallback:
    """Calls ``on_epoch(model, epoch, val_bpc)`` after every validation (for printed samples)."""

    def __new__(cls, model: LanguageModel, on_epoch):
        import lightning.pytorch as pl

        class SampleCallback(pl.Callback):
            def on_validation_end(self, trainer, module):
                # after the module's epoch-end hook, which logs val_loss
                if trainer.sanity_checking or not trainer.is_global_zero:
                    return
                loss = trainer.callback_metrics.get("val_loss")
                bpc = float(loss) / LN2 if loss is not None else float("nan")
                was_training = model.net.training
                on_epoch(model, trainer.current_epoch, bpc)
                model.net.train(was_training)

        return SampleCallback()


def print_sample(model: LanguageModel, epoch: int, bpc: float, *, prime: str = "", length: int = 200,
                 temperature: float = 0.8, file=None) -> None:
    text = model.sample(prime, length, temperature=temperature, seed=epoch)
    print(f"--- epoch {epoch}  validation {bpc:.3f} bits/char ---\n{text}\n", file=file or sys.stdout,
          flush=True)

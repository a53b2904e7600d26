"""Next-token language modeling: the loss against torch's own cross-entropy over shifted targets,
text blocking and the unigram baseline by hand, greedy generation against a hand-written loop,
located errors for bad text, and a GPT run stopped after epoch 1 resuming to the same weights."""
from __future__ import annotations

import io
import json
import math
import os
import signal
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

import archspec
from archspec.errors import ArchspecError
from archspec.train import text
from archspec.train.generate import sample
from archspec.train.recipe import Recipe
from archspec.train.run import train
from archspec.train.tasks import TASKS

GPT = str(Path(__file__).parents[2] / "specs" / "gpt_small.yaml")
TINY = {"layers": 1, "heads": 2, "width": 16, "context": 8}
LM = TASKS["language_model"]


def corpus(tmp_path, n: int = 60) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("".join(f"the cat sat on mat {i % 7}.\n" for i in range(n)))
    return path


def test_loss_is_torchs_cross_entropy_over_every_shifted_position_and_perplexity_its_exp():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 11, (3, 6), generator=g)
    x, y = ids[:, :-1], ids[:, 1:]
    logits = torch.randn(3, 5, 11, generator=g)
    loss = LM.make_loss(Recipe())(logits, y)
    torch.testing.assert_close(loss, F.cross_entropy(logits.permute(0, 2, 1), y))  # torch's (N, C, T) form
    sums = LM.sums(logits, y, loss)
    metrics = LM.metrics(sums)
    assert metrics["ppl"] == pytest.approx(math.exp(float(loss)))
    assert metrics["acc"] == pytest.approx(float((logits.argmax(-1) == y).float().mean()))
    assert x.shape == y.shape


def test_blocks_share_boundary_tokens_so_each_token_is_a_target_once():
    x, y = text.blocks(torch.arange(11), 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_chars_vocabulary_is_the_corpus_characters_in_code_point_order(tmp_path):
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("ca\n")
    (folder / "sub" / "a.txt").write_text("é")
    (folder / ".hidden").write_text("zzz")
    got = text.read_corpus("text:x", str(folder), "chars")
    assert got.vocab.chars == "\nacé" and got.files == 2
    assert got.ids.tolist() == [2, 1, 0, 3]  # b.txt, then sub/a.txt (sorted walk)
    assert got.vocab.decode(got.ids) == "ca\né"
    raw = text.read_corpus("text:x", str(folder), "bytes")
    assert bytes(raw.ids.tolist()) == "ca\né".encode()


def test_unigram_baseline_by_hand():
    train_y, val_y = torch.tensor([[0, 0, 1]]), torch.tensor([[0, 2]])
    p = [(2 + 1) / (3 + 3), (1 + 1) / (3 + 3), (0 + 1) / (3 + 3)]  # add-one over 3 ids
    assert text.unigram_loss(train_y, val_y, 3) == pytest.approx(-(math.log(p[0]) + math.log(p[2])) / 2)


def test_the_stdlib_demo_is_a_bounded_sorted_selection_of_real_modules():
    files = text.stdlib_files()
    names = [p.name for p, _ in files]
    assert names == sorted(names) and all(n.endswith(".py") and not n.startswith("_") for n in names)
    assert 100_000 < sum(size for _, size in files) <= text.STDLIB_BYTES
    assert files[0][0].parent == Path(os.__file__).parent


def test_greedy_and_top_k_1_generation_equal_a_hand_written_loop():
    torch.manual_seed(0)
    module = archspec.build(GPT, **TINY).eval()
    prompt = torch.tensor([5, 9, 1])
    ids = prompt.clone()
    with torch.no_grad():
        for _ in range(12):  # by hand: the argmax at the last position of the last 8 tokens
            ids = torch.cat([ids, module(ids[-8:][None])[0, -1].argmax().view(1)])
    assert sample(module, prompt, 12, 8, temperature=0).tolist() == ids.tolist()
    top1 = sample(module, prompt, 12, 8, temperature=1.0, top_k=1, generator=torch.Generator().manual_seed(3))
    assert top1.tolist() == ids.tolist()


def run_args(path, **extra):
    return {"data": f"text:{path}", "device": "cpu", "epochs": 2, "batch_size": 8, "seed": 4, "lr": 0.01,
            "params": TINY, **extra}


def test_a_gpt_learns_text_and_generates_from_it(tmp_path, cli):
    path = corpus(tmp_path, 200)
    out = io.StringIO()
    summary = train(GPT, run_args(path, vocab="chars", epochs=3), out=str(tmp_path / "run"), stream=out)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    baseline = float(out.getvalue().split("has val loss ")[1].split()[0])
    assert summary["task"] == "language_model" and summary["best_metric"] == "val_loss"
    assert records[-1]["val_loss"] < baseline - 0.5 and records[-1]["val_ppl"] == pytest.approx(
        math.exp(records[-1]["val_loss"]))
    result = cli("generate", GPT, "--checkpoint", tmp_path / "run", "--prompt", "the cat", "--temperature", 0,
                 "--max-tokens", 20, "--set", "layers=1", "--set", "heads=2", "--set", "width=16", "--set", "context=8")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("the cat") and "ms/token" in result.output
    bad = cli("generate", GPT, "--checkpoint", tmp_path / "run", "--prompt", "the dog", *sum(
        (["--set", f"{k}={v}"] for k, v in TINY.items()), []))
    assert bad.exit_code == 1 and "--prompt holds 'd'" in bad.output and "not in the run's vocabulary" in bad.output
    report = cli("eval", GPT, "--checkpoint", tmp_path / "run", "--data", f"text:{path}", "--format", "json",
                 *sum((["--set", f"{k}={v}"] for k, v in TINY.items()), []))
    assert report.exit_code == 0, report.output
    got = json.loads(report.output)
    assert got["loss"] == pytest.approx(records[-1]["val_loss"]) and got["perplexity"] == pytest.approx(
        records[-1]["val_ppl"]) and got["unigram_loss"] == pytest.approx(baseline, abs=1e-4)


def test_generate_refuses_a_classifier_run(tmp_path, cli, tiny_spec):
    assert cli("train", tiny_spec, "--data", "synthetic:40", "--epochs", 1, "--out", "run").exit_code == 0
    result = cli("generate", tiny_spec, "--checkpoint", "run", "--prompt", "hi")
    assert result.exit_code == 1 and "is a image_classification run" in result.output


@pytest.mark.parametrize("extra, message", [
    ({"params": {**TINY, "vocab_size": 100}},
     r"read as bytes \(--vocab\) has 256 token ids but spec 'gpt_small' takes ids in \[0, 100\) .*"
     r"--set vocab_size=256"),
    ({"loss": "mse"}, r"loss \(spec.*\)|--loss: a language model trains with cross_entropy"),
    ({"val_split": 0.9, "params": {**TINY, "context": 512}}, r"too few to hold out"),
])
def test_bad_text_runs_are_refused_saying_where(tmp_path, extra, message):
    with pytest.raises(ArchspecError, match=message):
        train(GPT, {**run_args(corpus(tmp_path, 10)), **extra}, out=str(tmp_path / "run"), stream=io.StringIO())


def test_chars_of_a_file_that_is_not_utf8_are_located(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "bad.txt").write_bytes(b"ok\n\xff")
    with pytest.raises(ArchspecError, match=r"bad.txt is not UTF-8 text \(byte 0xff at offset 3\)"):
        text.read_corpus("text:t", str(tmp_path / "t"), "chars")


def test_text_cannot_train_a_classifier(tmp_path):
    spec = str(Path(__file__).parents[2] / "specs" / "text_lstm.yaml")
    with pytest.raises(ArchspecError, match=r"targets of shape \(32\) per sample, but spec 'text_lstm' trains as "
                                            r"sequence_classification .*text: data trains language models"):
        train(spec, {"data": f"text:{corpus(tmp_path)}", "device": "cpu", "params": {"vocab_size": 256}},
              out=str(tmp_path / "run"), stream=io.StringIO())


def test_a_gpt_stopped_after_epoch_1_resumes_to_the_weights_of_an_unbroken_run(tmp_path, monkeypatch):
    from archspec.train import progress

    path = corpus(tmp_path, 120)
    args = run_args(path, vocab="chars", epochs=3, deterministic=True, schedule="cosine", optimizer="adamw")
    train(GPT, dict(args), out=str(tmp_path / "whole"), stream=io.StringIO())
    end_epoch = progress.Progress.end_epoch

    def stop_after_first(self, record):  # Ctrl-C as epoch 1 ends: the run stops with its checkpoint
        end_epoch(self, record)
        if record["epoch"] == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(progress.Progress, "end_epoch", stop_after_first)
    with pytest.raises(Exception, match="interrupted in epoch 2 after 0 batches"):
        train(GPT, dict(args), out=str(tmp_path / "broken"), stream=io.StringIO())
    monkeypatch.setattr(progress.Progress, "end_epoch", end_epoch)
    train(None, {}, resume=str(tmp_path / "broken"), stream=io.StringIO())
    whole, resumed = (torch.load(tmp_path / r / "checkpoints" / "last.pt", weights_only=True) for r in ("whole", "broken"))
    assert whole["epoch"] == resumed["epoch"] == 3 and whole["vocab"] == resumed["vocab"]
    assert all(torch.equal(whole["model"][k], resumed["model"][k]) for k in whole["model"])

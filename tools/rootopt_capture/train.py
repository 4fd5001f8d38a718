"""Demo training runs that feed a SpectrumRecorder: Muon on the orthogonalized weights, AdamW
on the rest, so the recorded momentum is exactly what a Muon user orthogonalizes."""

import torch
import torch.nn.functional as F

from . import datasets, models
from .muon_reference import Muon
from .progress import Progress
from .recorder import SpectrumRecorder


def make_optimizers(model, muon_lr, adamw_lr, momentum):
    ortho, adamw = models.split_parameters(model)
    muon = Muon([p for _, p in ortho], lr=muon_lr, momentum=momentum)
    adam = torch.optim.AdamW([p for _, p in adamw], lr=adamw_lr, betas=(0.9, 0.95),
                             weight_decay=0.0)
    return ortho, muon, adam


def run_steps(label, steps, muon, adam, recorder, next_loss):
    """The shared loop: loss, backward, both optimizer steps, record, zero_grad."""
    progress = Progress(label, steps)
    recent = []
    for step in range(1, steps + 1):
        loss = next_loss()
        loss.backward()
        muon.step()
        adam.step()
        recorder.observe(step)
        muon.zero_grad(set_to_none=True)
        adam.zero_grad(set_to_none=True)
        recent = (recent + [loss.item()])[-20:]
        progress.update(step, f"loss {sum(recent) / len(recent):.3f}")
    return progress.elapsed()


def capture_transformer(cfg):
    """Byte-level LM on a text corpus; returns (recorder, summary dict)."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    data = datasets.ByteBatches(datasets.text_bytes(cfg.text), cfg.seq_len, cfg.batch_size, gen)
    model = models.ByteTransformer(cfg.d_model, cfg.layers, cfg.heads, cfg.mlp_dim,
                                   cfg.seq_len).to(cfg.device)
    ortho, muon, adam = make_optimizers(model, cfg.lr, cfg.adamw_lr, cfg.momentum)
    recorder = SpectrumRecorder(ortho, model="byte-transformer", dataset=cfg.text,
                                every=cfg.every, momentum=cfg.momentum, optimizer=muon)

    def loss_of(batch):
        x, y = (t.to(cfg.device) for t in batch)
        return F.cross_entropy(model(x).flatten(0, 1), y.flatten())

    def next_loss():
        return loss_of(data.batch("train"))

    seconds = run_steps("byte-transformer", cfg.steps, muon, adam, recorder, next_loss)
    with torch.no_grad():
        val = sum(loss_of(data.batch("val")).item() for _ in range(8)) / 8
    return recorder, {"val_loss_nats_per_byte": val, "train_seconds": seconds}


def capture_classifier(cfg):
    """MLP or CNN on Fashion-MNIST; returns (recorder, summary dict)."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_x, train_y, test_x, test_y = (t.to(cfg.device) for t in
                                        datasets.fashion_mnist(cfg.fashion_mnist))
    model = (models.MLP() if cfg.model == "mlp" else models.CNN()).to(cfg.device)
    ortho, muon, adam = make_optimizers(model, cfg.lr, cfg.adamw_lr, cfg.momentum)
    recorder = SpectrumRecorder(ortho, model=cfg.model, dataset="fashion-mnist",
                                every=cfg.every, momentum=cfg.momentum, optimizer=muon)

    def next_loss():
        idx = torch.randint(0, len(train_x), (cfg.batch_size,), generator=gen).to(cfg.device)
        return F.cross_entropy(model(train_x[idx]), train_y[idx])

    seconds = run_steps(cfg.model, cfg.steps, muon, adam, recorder, next_loss)
    with torch.no_grad():
        logits = torch.cat([model(test_x[i:i + 1000]) for i in range(0, len(test_x), 1000)])
        accuracy = (logits.argmax(1) == test_y).float().mean().item()
    return recorder, {"test_accuracy": accuracy, "train_seconds": seconds}

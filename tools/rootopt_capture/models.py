"""The demo models: a byte-level transformer LM and a small MLP and CNN for Fashion-MNIST.

Each model's `adamw_parameter_names()` lists the >=2-D weights a Muon user conventionally
leaves to AdamW (embeddings, output heads, the 1-channel first convolution whose flattened
fan-in of 9 is too small to orthogonalize usefully); every other >=2-D weight is orthogonalized.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class SelfAttention(nn.Module):
    """Causal multi-head attention with separate square q, k, v, o projections (d x d each)."""

    def __init__(self, d_model, heads):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} not divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.k = nn.Linear(d_model, d_model, bias=False)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.o = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        attn = scores.masked_fill(mask, float("-inf")).softmax(-1)
        return self.o((attn @ v).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, d_model, heads, mlp_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, mlp_dim, bias=False)      # weight (mlp_dim, d_model)
        self.proj = nn.Linear(mlp_dim, d_model, bias=False)    # weight (d_model, mlp_dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.proj(F.gelu(self.fc(self.norm2(x))))


class ByteTransformer(nn.Module):
    """Pre-LayerNorm GPT-style language model over bytes (vocabulary 256)."""

    def __init__(self, d_model=256, layers=4, heads=4, mlp_dim=1024, seq_len=128):
        super().__init__()
        self.embed = nn.Embedding(256, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, heads, mlp_dim) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, 256, bias=False)

    def forward(self, tokens):
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.embed(tokens) + self.pos(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))

    def adamw_parameter_names(self):
        return {"embed.weight", "pos.weight", "head.weight"}


class MLP(nn.Module):
    """784 -> hidden[0] -> hidden[1] -> 10 ReLU network (default 512, 256)."""

    def __init__(self, hidden=(512, 256)):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.head = nn.Linear(hidden[1], 10)

    def forward(self, x):
        x = F.relu(self.fc1(x.flatten(1)))
        return self.head(F.relu(self.fc2(x)))

    def adamw_parameter_names(self):
        return {"head.weight"}


class CNN(nn.Module):
    """Three 3x3 convolutions (channels c1, c2, c3; default 32, 64, 64) with two 2x2 max-pools,
    then FC c3*7*7 -> 128 -> 10."""

    def __init__(self, channels=(32, 64, 64)):
        super().__init__()
        c1, c2, c3 = channels
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.fc = nn.Linear(c3 * 7 * 7, 128)
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        return self.head(F.relu(self.fc(x.flatten(1))))

    def adamw_parameter_names(self):
        return {"conv1.weight", "head.weight"}


def split_parameters(model):
    """(orthogonalized, adamw) lists of (name, parameter): >=2-D weights not named by
    model.adamw_parameter_names() are orthogonalized, everything else goes to AdamW."""
    skip = model.adamw_parameter_names()
    ortho, adamw = [], []
    for name, p in model.named_parameters():
        (ortho if p.dim() >= 2 and name not in skip else adamw).append((name, p))
    return ortho, adamw


def matrix_shapes(model):
    """Shapes (rows, cols) of the orthogonalized weights as matrices (conv kernels flattened)."""
    ortho, _ = split_parameters(model)
    return [(p.shape[0], p[0].numel()) for _, p in ortho]

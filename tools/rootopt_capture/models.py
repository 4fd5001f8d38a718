"""The demo models: byte-level language models (GPT-style and Llama-style transformers, an
LSTM) and a small MLP and CNN for Fashion-MNIST.

Each model's `adamw_parameter_names()` lists the >=2-D weights a Muon user conventionally
leaves to AdamW (embeddings, output heads, the 1-channel first convolution whose flattened
fan-in of 9 is too small to orthogonalize usefully); every other >=2-D weight is orthogonalized.
`model_id()` names the architecture and size: the identity the fit / held-out split keeps apart.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def rotary(x):
    """Rotary position embedding (Su et al. 2021, RoFormer; the half-split form of Llama's
    reference code) of x (batch, heads, time, head_dim), base 10000."""
    half = x.shape[-1] // 2
    freqs = 10000.0 ** (-torch.arange(half, dtype=torch.float32, device=x.device) / half)
    angles = torch.arange(x.shape[-2], dtype=torch.float32, device=x.device)[:, None] * freqs
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class SelfAttention(nn.Module):
    """Causal multi-head attention with separate q, k, v, o projections: q and o d x d, k and v
    (kv_heads*head_dim) x d (grouped-query attention when kv_heads < heads; Ainslie et al. 2023).
    `rope` applies rotary position embeddings to q and k (Llama style)."""

    def __init__(self, d_model, heads, kv_heads=None, rope=False):
        super().__init__()
        kv_heads = kv_heads or heads
        if d_model % heads or heads % kv_heads:
            raise ValueError(f"d_model {d_model} must be divisible by heads {heads}, and heads by "
                             f"kv_heads {kv_heads}")
        self.heads, self.kv_heads, self.rope = heads, kv_heads, rope
        head_dim = d_model // heads
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.k = nn.Linear(d_model, kv_heads * head_dim, bias=False)
        self.v = nn.Linear(d_model, kv_heads * head_dim, bias=False)
        self.o = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        split = lambda y, n: y.view(b, t, n, d // self.heads).transpose(1, 2)
        q, k, v = (split(self.q(x), self.heads), split(self.k(x), self.kv_heads),
                   split(self.v(x), self.kv_heads))
        if self.rope:
            q, k = rotary(q), rotary(k)
        if self.kv_heads < self.heads:
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        attn = scores.masked_fill(mask, float("-inf")).softmax(-1)
        return self.o((attn @ v).transpose(1, 2).reshape(b, t, d))


class RMSNorm(nn.Module):
    """Root-mean-square layer norm with a learned gain (Zhang & Sennrich 2019), as in Llama."""

    def __init__(self, d_model, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d_model))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    """GPT-2-style pre-LayerNorm block: attention, then a GELU MLP d -> mlp_dim -> d."""

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


class LlamaBlock(nn.Module):
    """Llama-style pre-RMSNorm block: rotary grouped-query attention, then a SwiGLU MLP
    down(silu(gate(x)) * up(x)) (Shazeer 2020), gate and up mlp_dim x d, down d x mlp_dim."""

    def __init__(self, d_model, heads, kv_heads, mlp_dim):
        super().__init__()
        self.attn_norm = RMSNorm(d_model)
        self.attn = SelfAttention(d_model, heads, kv_heads, rope=True)
        self.mlp_norm = RMSNorm(d_model)
        self.gate = nn.Linear(d_model, mlp_dim, bias=False)
        self.up = nn.Linear(d_model, mlp_dim, bias=False)
        self.down = nn.Linear(mlp_dim, d_model, bias=False)

    def forward(self, x):
        x = x + self.attn(self.attn_norm(x))
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


def llama_mlp_dim(d_model, multiple_of=32):
    """Llama's SwiGLU width: 2/3 of 4*d_model, rounded up to a multiple (ratio about 2.7)."""
    return multiple_of * math.ceil(8 * d_model / 3 / multiple_of)


class ByteTransformer(nn.Module):
    """Transformer language model over bytes (vocabulary 256).

    style "gpt": learned positions, pre-LayerNorm GELU blocks (Block); style "llama": rotary
    positions, pre-RMSNorm SwiGLU blocks with grouped-query attention (LlamaBlock)."""

    def __init__(self, d_model=256, layers=4, heads=4, mlp_dim=1024, seq_len=128, style="gpt",
                 kv_heads=None):
        super().__init__()
        if style not in ("gpt", "llama"):
            raise ValueError(f"transformer style must be gpt or llama, got {style}")
        self.style = style
        self.config = dict(d_model=d_model, layers=layers, heads=heads, mlp_dim=mlp_dim,
                           kv_heads=kv_heads or heads)
        self.embed = nn.Embedding(256, d_model)
        if style == "gpt":
            self.pos = nn.Embedding(seq_len, d_model)
            self.blocks = nn.ModuleList(Block(d_model, heads, mlp_dim) for _ in range(layers))
            self.norm = nn.LayerNorm(d_model)
        else:
            self.blocks = nn.ModuleList(LlamaBlock(d_model, heads, kv_heads or heads, mlp_dim)
                                        for _ in range(layers))
            self.norm = RMSNorm(d_model)
        self.head = nn.Linear(d_model, 256, bias=False)

    def forward(self, tokens):
        x = self.embed(tokens)
        if self.style == "gpt":
            x = x + self.pos(torch.arange(tokens.shape[1], device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))

    def adamw_parameter_names(self):
        return {"embed.weight", "pos.weight", "head.weight"}

    def model_id(self):
        c = self.config
        kv = f"-kv{c['kv_heads']}" if c["kv_heads"] != c["heads"] else ""
        return (f"{self.style}-d{c['d_model']}-l{c['layers']}-h{c['heads']}{kv}"
                f"-mlp{c['mlp_dim']}")


class ByteLSTM(nn.Module):
    """LSTM language model over bytes: embedding (256 x embed_dim), `layers` LSTM layers of
    `hidden` units (weight_ih (4*hidden x input) and weight_hh (4*hidden x hidden), the four
    gates stacked as PyTorch stores them and orthogonalized as one matrix), linear head."""

    def __init__(self, embed_dim=128, hidden=256, layers=2):
        super().__init__()
        self.config = dict(embed_dim=embed_dim, hidden=hidden, layers=layers)
        self.embed = nn.Embedding(256, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, 256, bias=False)

    def forward(self, tokens):
        return self.head(self.lstm(self.embed(tokens))[0])

    def adamw_parameter_names(self):
        return {"embed.weight", "head.weight"}

    def model_id(self):
        c = self.config
        return f"lstm-e{c['embed_dim']}-h{c['hidden']}-l{c['layers']}"


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

    def model_id(self):
        return f"mlp-784-{self.fc1.out_features}-{self.fc2.out_features}-10"


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

    def model_id(self):
        channels = "-".join(str(c.out_channels) for c in (self.conv1, self.conv2, self.conv3))
        return f"cnn-{channels}-fc{self.fc.out_features}"


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

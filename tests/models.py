"""Small real models for the store/ingest tests, built here (nothing is downloaded)."""

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, x):
        return x + self.fc2(torch.tanh(self.fc1(x)))


class ResNet(nn.Module):
    """A residual MLP: stem, `n_blocks` residual blocks of two linear maps, head."""

    def __init__(self, n_blocks=5, width=6, n_in=3, n_out=2):
        super().__init__()
        self.stem = nn.Linear(n_in, width)
        self.blocks = nn.ModuleList(Block(width) for _ in range(n_blocks))
        self.head = nn.Linear(width, n_out)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


RESNET_ROLES = ["blocks.{k}.fc1.weight", "blocks.{k}.fc1.bias", "blocks.{k}.fc2.weight", "blocks.{k}.fc2.bias"]


def transformer_encoder(num_layers=3, d_model=8, nhead=2, dim_feedforward=12):
    layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)


TRANSFORMER_ROLES = [
    "layers.{k}." + r
    for r in (
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
        "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
        "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
    )
]


def gpt2(n_layer=3, n_embd=16):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=n_layer, n_embd=n_embd, n_head=2, n_positions=16, vocab_size=50, bos_token_id=0, eos_token_id=0
    )
    return GPT2LMHeadModel(config)


GPT2_ROLES = [
    "transformer.h.{k}." + r
    for r in (
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
        "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
        "mlp.c_proj.weight", "mlp.c_proj.bias",
    )
]

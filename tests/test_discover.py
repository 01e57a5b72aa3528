import numpy as np
import pytest

import streamrough as sr

torch = pytest.importorskip("torch")
import models  # noqa: E402  (tests/models.py needs torch)


def test_groups_by_index_and_shape_in_index_order():
    shapes = {f"h.{k}.w": (3, 2) for k in (10, 2, 0, 1)}
    shapes.update({"h.3.w": (2, 2), "h.0.b": (3,), "emb": (5, 3), "h.0.mask": (3,)})
    plan = sr.find_paths([(n, s, "bool" if n.endswith("mask") else "float32") for n, s in shapes.items()])
    assert plan.roles == ["h.{k}.w"]
    spec = plan["h.{k}.w"]
    assert spec.names == ("h.0.w", "h.1.w", "h.2.w", "h.10.w") and spec.indices == (0, 1, 2, 10)
    assert spec.n_layers == 4 and spec.layer_shape == (3, 2) and spec.dtype == "float32"
    assert plan.left_out == {
        "h.3.w": "shape (2, 2) differs from the 4 layers of h.{k}.w (shape (3, 2))",
        "h.0.b": "the only layer of its role (a path needs at least 2 layers)",
        "emb": "no integer layer index in the name",
        "h.0.mask": "dtype bool is not floating point",
    }
    assert "1 weight paths" in plan.summary() and "4 parameters left out" in plan.summary()


def test_leftmost_index_is_the_layer():
    names = {f"layers.{k}.experts.{e}.w": (2,) for k in range(3) for e in range(2)}
    plan = sr.find_paths(names)
    assert plan.roles == ["layers.{k}.experts.0.w", "layers.{k}.experts.1.w"]
    assert all(p.n_layers == 3 for p in plan)


def test_regex_and_explicit_overrides():
    names = {f"blocks.{k}.W": (2, 2) for k in range(4)} | {f"blocks.{k}.b": (2,) for k in range(4)}
    plan = sr.find_paths(names, layers=r"re:blocks\.(\d+)\.W$")
    assert plan.roles == ["blocks.{k}.W"] and plan["blocks.{k}.W"].n_layers == 4
    assert plan.left_out["blocks.0.b"] == "does not match the layers regex"
    plan = sr.find_paths(names, layers=["blocks.2.W", "blocks.0.W"])
    assert plan.roles == ["blocks.{k}.W"] and plan.paths[0].names == ("blocks.2.W", "blocks.0.W")
    with pytest.raises(ValueError, match="group capturing the layer number"):
        sr.find_paths(names, layers=r"re:blocks\.\d+\.W")
    with pytest.raises(ValueError, match="'nope' \\(not a parameter\\)"):
        sr.find_paths(names, layers=["blocks.0.W", "nope"])
    with pytest.raises(ValueError, match="share one shape"):
        sr.find_paths(names, layers=["blocks.0.W", "blocks.0.b"])
    with pytest.raises(ValueError, match="'re:REGEX'"):
        sr.find_paths(names, layers="blocks")


def test_residual_network():
    plan = sr.find_paths(models.ResNet(n_blocks=5).state_dict())
    assert plan.roles == models.RESNET_ROLES
    assert [p.n_layers for p in plan] == [5] * 4
    assert plan["blocks.{k}.fc1.weight"].layer_shape == (6, 6)
    assert set(plan.left_out) == {"stem.weight", "stem.bias", "head.weight", "head.bias"}


def test_transformer_encoder_state_dict():
    plan = sr.find_paths(models.transformer_encoder(num_layers=3).state_dict())
    assert plan.roles == models.TRANSFORMER_ROLES
    assert {p.n_layers for p in plan} == {3}
    assert plan["layers.{k}.self_attn.in_proj_weight"].layer_shape == (24, 8)
    assert plan.left_out == {}


def test_sharded_gpt2_folder(tmp_path):
    model = models.gpt2(n_layer=3, n_embd=16)
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    assert len(list(tmp_path.glob("*.safetensors"))) > 1
    plan = sr.find_paths(tmp_path)
    assert sorted(plan.roles) == sorted(models.GPT2_ROLES)
    assert {p.n_layers for p in plan} == {3}
    assert plan["transformer.h.{k}.mlp.c_fc.weight"].layer_shape == (16, 64)
    assert set(plan.left_out) == {
        "transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight", "transformer.ln_f.bias"
    }


def test_numpy_array_is_one_path():
    plan = sr.find_paths(np.zeros((4, 2, 3)))
    assert plan.roles == ["layers.{k}"] and plan.paths[0].n_layers == 4
